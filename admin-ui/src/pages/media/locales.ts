// An item's alt text and caption per locale: what the server holds (a plain string on a site
// without locales, an object by locale otherwise) to the details form and back.

import type { ContentTypeSummary } from "../../api/client";

/** The site's locales as the server counts them: every type's, the first type's default first. */
export function siteLocales(types: ContentTypeSummary[]): string[] {
  const out: string[] = [];
  for (const t of types) for (const l of t.locales) if (!out.includes(l)) out.push(l);
  return out;
}

export type Localized = string | Record<string, string> | null | undefined;

/** Text per locale for the form (a plain string is the default locale's). */
export function perLocale(v: Localized, locales: string[]): Record<string, string> {
  if (typeof v === "string") return { [locales[0] ?? ""]: v };
  return { ...(v ?? {}) };
}

/** What PATCH takes back: a string without locales; an object of the filled locales, or null. */
export function fromLocales(v: Record<string, string>, locales: string[]): Localized {
  if (!locales.length) return v[""]?.trim() ? v[""] : null;
  const filled = Object.fromEntries(Object.entries(v).filter(([l, t]) => locales.includes(l) && t.trim()));
  return Object.keys(filled).length ? filled : null;
}

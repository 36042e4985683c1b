// Small text rules the pages share, kept apart from React so they are easy to test.

/** Where to go after signing in: a path inside the admin UI, never another site. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) {
    return "/";
  }
  return next;
}

/**
 * A cell's text: a localised value in `locale`, else in `fallback` (the default locale, as the
 * delivery API falls back); lists joined; long text cut.
 */
export function cellText(value: unknown, locale?: string, fallback?: string): string {
  if (value === null || value === undefined) {
    return "";
  }
  if (Array.isArray(value)) {
    return value.map((v) => cellText(v, locale, fallback)).join(", ");
  }
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    for (const l of [locale, fallback]) {
      const text = l ? cellText(obj[l]) : "";
      if (text.trim()) {
        return text;
      }
    }
    return "";
  }
  const text = String(value);
  return text.length > 80 ? text.slice(0, 79) + "…" : text;
}

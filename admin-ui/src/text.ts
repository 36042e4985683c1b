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

/**
 * The address's query with `changes` made (an empty or null value removes the parameter), back
 * on the first page unless `page` is among them. It starts from the address as it is now, not
 * from a render's parameters: two changes made before the page re-renders (react-router hands
 * even its setter's function form the render's parameters) must both hold.
 */
export function changedQuery(changes: Record<string, string | null>, current: string): URLSearchParams {
  const next = new URLSearchParams(current);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === "") next.delete(k);
    else next.set(k, v);
  }
  if (!("page" in changes)) next.delete("page");
  return next;
}

/** A filter form's query: each field's trimmed value, the empty ones left out. */
export function filterQuery(fields: Record<string, string>): URLSearchParams {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value.trim()) q.set(name, value.trim());
  }
  return q;
}

/** `params`' values of `names`, those that are set, on top of `base`. */
export function pickParams(params: URLSearchParams, names: string[], base: Record<string, string>): URLSearchParams {
  const q = new URLSearchParams(base);
  for (const name of names) {
    const v = params.get(name);
    if (v) q.set(name, v);
  }
  return q;
}

/** A moment as the reader's locale writes it; a dash for none. */
export function dateTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** A file's size in B, KB or MB (of 1024). */
export function fileSize(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

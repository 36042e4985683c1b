// The entry form's model, apart from React: a content type's JSON Schema (as
// `GET /types/{type}` answers it, with Folio's `x-folio-*` keys) read into field specs, the
// values a new entry starts with, what a save sends, and which fields two versions disagree
// on. The editor renders specs; everything here is plain data and tested on its own.

/** A field type of the content-type format. */
export type FieldKind =
  | "text"
  | "long_text"
  | "markdown"
  | "integer"
  | "float"
  | "boolean"
  | "datetime"
  | "date"
  | "enum"
  | "json"
  | "uid"
  | "email"
  | "url"
  | "relation"
  | "media"
  | "group"
  | "repeater";

const KINDS: readonly FieldKind[] = [
  "text",
  "long_text",
  "markdown",
  "integer",
  "float",
  "boolean",
  "datetime",
  "date",
  "enum",
  "json",
  "uid",
  "email",
  "url",
  "relation",
  "media",
  "group",
  "repeater",
];

/** The subset of JSON Schema the server writes for entry fields. */
export interface JsonSchema {
  type?: string;
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  nullable?: boolean;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  "x-folio-type"?: string;
  "x-folio-target"?: string;
  "x-folio-from"?: string;
  "x-folio-accept"?: string[];
  "x-folio-localized"?: boolean;
}

export interface FieldSpec {
  name: string;
  label: string;
  description?: string;
  kind: FieldKind;
  /** Must hold a value (for a localised field: in the default locale). */
  required: boolean;
  localized: boolean;
  /** A relation or media field holding a list. */
  many: boolean;
  target?: string;
  accept?: string[];
  /** A uid's source field. */
  from?: string;
  values?: string[];
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  maxItems?: number;
  default?: unknown;
  /** A group's fields, or a repeater item's. */
  fields?: FieldSpec[];
}

/** `reading_time` → "Reading time". */
export function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The specs of an object schema's properties, in the order the content type declares them. */
export function fieldsOf(schema: JsonSchema): FieldSpec[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => specOf(name, prop, required.has(name)));
}

function specOf(name: string, prop: JsonSchema, listedRequired: boolean): FieldSpec {
  const localized = prop["x-folio-localized"] === true;
  // A localised field's schema is an object of locales; its value schema is any locale's.
  const value: JsonSchema = localized ? (Object.values(prop.properties ?? {})[0] ?? {}) : prop;
  const declared = prop["x-folio-type"] as FieldKind | undefined;
  const kind: FieldKind = declared && KINDS.includes(declared) ? declared : "json";
  const many = (kind === "relation" || kind === "media") && value.type === "array";
  const spec: FieldSpec = {
    name,
    label: prop.title ?? humanize(name),
    // A relation or media field without words of its own carries the id's generic
    // description ("The id of ..."), which says nothing to an editor.
    description:
      (kind === "relation" || kind === "media") && prop.description?.startsWith("The id of ")
        ? undefined
        : prop.description,
    kind,
    // Required fields with a default, or a uid made from its source, are not in `required`
    // (the server fills them) but are never null either.
    required: listedRequired || prop.nullable !== true,
    localized,
    many,
  };
  if (prop["x-folio-target"]) spec.target = prop["x-folio-target"];
  if (prop["x-folio-from"]) spec.from = prop["x-folio-from"];
  if (prop["x-folio-accept"]) spec.accept = prop["x-folio-accept"];
  if (kind === "enum" && Array.isArray(value.enum)) spec.values = value.enum.map(String);
  if (value.minimum !== undefined) spec.min = value.minimum;
  if (value.maximum !== undefined) spec.max = value.maximum;
  if (value.minLength !== undefined && kind !== "relation" && kind !== "media") spec.minLength = value.minLength;
  if (value.maxLength !== undefined && kind !== "relation" && kind !== "media") spec.maxLength = value.maxLength;
  if (value.pattern !== undefined && kind !== "uid" && kind !== "relation" && kind !== "media") {
    spec.pattern = value.pattern;
  }
  if (value.maxItems !== undefined) spec.maxItems = value.maxItems;
  const dflt = localized ? value.default : prop.default;
  if (dflt !== undefined) spec.default = dflt;
  if (kind === "group") spec.fields = fieldsOf(value);
  if (kind === "repeater" && value.items) spec.fields = fieldsOf(value.items);
  return spec;
}

export type Fields = Record<string, unknown>;

/** The value of one (non-localised) field in a new entry or a new repeater item. */
export function emptyValue(spec: FieldSpec): unknown {
  if (spec.default !== undefined) return structuredClone(spec.default);
  switch (spec.kind) {
    case "boolean":
      return spec.required ? false : null;
    case "group":
      return spec.required ? newItem(spec.fields ?? []) : null;
    case "repeater":
      return [];
    case "relation":
    case "media":
      return spec.many ? [] : null;
    default:
      return null;
  }
}

/** The fields of a new group or repeater item. */
export function newItem(specs: FieldSpec[], locales: string[] = []): Fields {
  const out: Fields = {};
  for (const spec of specs) {
    const first = locales[0];
    out[spec.name] = spec.localized && first !== undefined ? { [first]: emptyValue(spec) } : emptyValue(spec);
  }
  return out;
}

/** Whether a value counts as not given: the server's empty. */
export function isBlank(v: unknown): boolean {
  return (
    v === null || v === undefined || (typeof v === "string" && v.trim() === "") || (Array.isArray(v) && v.length === 0)
  );
}

/**
 * The fields a save sends: blank values as `null` (a field with no locale left, too), numbers
 * typed as text parsed. Anything the editor typed that does not parse is sent as typed, for
 * the server to name the field it refuses.
 */
export function toPayload(specs: FieldSpec[], values: Fields): Fields {
  const out: Fields = {};
  for (const spec of specs) {
    if (!(spec.name in values)) continue;
    out[spec.name] = payloadValue(spec, values[spec.name]);
  }
  return out;
}

function payloadValue(spec: FieldSpec, v: unknown): unknown {
  if (spec.localized && v !== null && typeof v === "object" && !Array.isArray(v)) {
    // Blank locales are sent as `null`: a patch merges locales, so leaving one out would
    // keep its old text.
    const per: Record<string, unknown> = {};
    for (const [locale, lv] of Object.entries(v as Record<string, unknown>)) {
      per[locale] = plainValue(spec, lv);
    }
    return Object.values(per).some((x) => x !== null) ? per : null;
  }
  return plainValue(spec, v);
}

function plainValue(spec: FieldSpec, v: unknown): unknown {
  switch (spec.kind) {
    case "integer":
    case "float": {
      if (typeof v === "string") {
        const t = v.trim();
        if (t === "") return null;
        const n = Number(t);
        return Number.isFinite(n) ? n : v;
      }
      return v ?? null;
    }
    case "group":
      return v && typeof v === "object" ? toPayload(spec.fields ?? [], v as Fields) : null;
    case "repeater":
      return Array.isArray(v) ? v.map((item) => toPayload(spec.fields ?? [], item as Fields)) : [];
    case "json":
      return v === undefined ? null : v;
    case "relation":
    case "media":
      if (spec.many) return Array.isArray(v) ? v : [];
      return isBlank(v) ? null : v;
    case "boolean":
      return v ?? null;
    default:
      return isBlank(v) ? null : v;
  }
}

/** Deep equality of JSON values (key order ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    // `undefined` and `null` are both "no value" to the server.
    return (a ?? null) === (b ?? null);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) {
    if (!sameValue(ao[k], bo[k])) return false;
  }
  return true;
}

/** The top-level fields whose values differ between two versions, in field order. */
export function changedFields(specs: FieldSpec[], a: Fields, b: Fields): string[] {
  return specs.filter((s) => !sameValue(payloadValue(s, a[s.name]), payloadValue(s, b[s.name]))).map((s) => s.name);
}

/**
 * What a 409 means for the editor: the fields a colleague changed since the editor loaded the
 * entry (`theirs`), the fields the editor changed (`mine`), and those both changed
 * (`both`, where keeping one side loses the other's edit).
 */
export interface Conflict {
  theirs: string[];
  mine: string[];
  both: string[];
}

export function conflictOf(specs: FieldSpec[], base: Fields, mine: Fields, theirs: Fields): Conflict {
  const byThem = changedFields(specs, base, theirs);
  const byMe = changedFields(specs, base, mine);
  return { theirs: byThem, mine: byMe, both: byMe.filter((f) => byThem.includes(f)) };
}

/**
 * "Keep mine" after a conflict: the server's current fields with the editor's own changes
 * laid over them, so a colleague's edit to another field survives.
 */
export function keepMine(specs: FieldSpec[], base: Fields, mine: Fields, theirs: Fields): Fields {
  const out: Fields = { ...theirs };
  for (const f of changedFields(specs, base, mine)) {
    out[f] = mine[f];
  }
  return out;
}

/** A validation error's path (`fields.seo.meta_title`, `fields.links[2].url`) as segments. */
export function pathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path))) {
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? ""));
  }
  return out[0] === "fields" ? out.slice(1) : out;
}

/** The path a field's errors come under, from its position in the form. */
export function pathOf(segments: (string | number)[]): string {
  let out = "fields";
  for (const s of segments) {
    out += typeof s === "number" ? `[${s}]` : `.${s}`;
  }
  return out;
}

/** Copies `obj` with the value at `path` replaced (objects and arrays made as needed). */
export function setIn(obj: unknown, path: (string | number)[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (typeof head === "number") {
    const arr = Array.isArray(obj) ? [...obj] : [];
    arr[head] = setIn(arr[head], rest, value);
    return arr;
  }
  const o = obj && typeof obj === "object" && !Array.isArray(obj) ? { ...(obj as Record<string, unknown>) } : {};
  o[head] = setIn(o[head], rest, value);
  return o;
}

export function getIn(obj: unknown, path: (string | number)[]): unknown {
  let cur = obj;
  for (const s of path) {
    if (cur === null || cur === undefined || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

/**
 * A slug as the server makes one from a uid's source: lower-case ASCII letters and digits,
 * accents folded, anything else a single dash, at most 200 characters.
 */
export function slugify(text: string): string {
  const folded = text
    .replace(/ß/g, "ss")
    .replace(/[æÆ]/g, "ae")
    .replace(/[œŒ]/g, "oe")
    .replace(/[øØ]/g, "o")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "");
  return folded
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 200)
    .replace(/-+$/, "");
}

/** A `datetime-local` input's value for an RFC 3339 instant, in the browser's time zone. */
export function toLocalInput(iso: unknown): string {
  if (typeof iso !== "string" || !iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The instant a `datetime-local` input names, as the server stores it; `null` when empty. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

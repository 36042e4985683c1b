import { describe, expect, test } from "vitest";
import doc from "../api/admin.json";
import {
  changedFields,
  conflictOf,
  fieldsOf,
  fromLocalInput,
  keepMine,
  newItem,
  pathOf,
  pathSegments,
  setIn,
  slugify,
  toLocalInput,
  toPayload,
  type JsonSchema,
} from "./model";

// The example types' schemas exactly as the server documents them, so a server change that
// the form does not understand fails here.
const schemas = (doc as unknown as { components: { schemas: Record<string, JsonSchema> } }).components.schemas;
const article = fieldsOf(schemas.ArticleFieldsInput!);
const settings = fieldsOf(schemas.SiteSettingsFieldsInput!);
const byName = (name: string) => article.find((f) => f.name === name)!;

describe("fields from the JSON Schema", () => {
  test("keep the content type's order and read every field type", () => {
    expect(article.map((f) => [f.name, f.kind])).toEqual([
      ["title", "text"],
      ["slug", "uid"],
      ["excerpt", "long_text"],
      ["body", "markdown"],
      ["author", "relation"],
      ["tags", "relation"],
      ["cover", "media"],
      ["reading_time", "integer"],
      ["featured", "boolean"],
      ["seo", "group"],
      ["editor_notes", "long_text"],
    ]);
    expect(settings.map((f) => f.kind)).toEqual(["text", "text", "enum", "repeater", "json"]);
  });

  test("carry rules, locales, targets and labels", () => {
    expect(byName("title")).toMatchObject({ localized: true, required: true, maxLength: 200, label: "Title" });
    expect(byName("excerpt")).toMatchObject({ localized: true, required: false });
    expect(byName("slug")).toMatchObject({ from: "title", localized: false });
    expect(byName("author")).toMatchObject({ target: "author", many: false });
    expect(byName("tags")).toMatchObject({ target: "tag", many: true, maxItems: 10 });
    expect(byName("cover")).toMatchObject({ accept: ["image/*"], many: false });
    expect(byName("cover").pattern).toBeUndefined();
    expect(byName("cover").description).toBeUndefined();
    expect(byName("reading_time")).toMatchObject({ min: 0, label: "Reading time" });
    expect(byName("featured").default).toBe(false);
    expect(byName("seo").fields?.map((f) => f.name)).toEqual(["meta_title", "meta_description"]);
    const theme = settings.find((f) => f.name === "theme")!;
    expect(theme.values).toEqual(["light", "dark", "auto"]);
    expect(theme.default).toBe("auto");
    const links = settings.find((f) => f.name === "social_links")!;
    expect(links.fields?.map((f) => [f.name, f.kind, f.required])).toEqual([
      ["label", "text", true],
      ["url", "url", true],
    ]);
  });
});

describe("values", () => {
  test("a new entry starts from the defaults", () => {
    const values = newItem(settings, []);
    expect(values).toEqual({ site_name: null, tagline: null, theme: "auto", social_links: [], analytics: null });
    expect(newItem(article, ["en", "fr"]).featured).toEqual(false);
    expect(newItem(article, ["en", "fr"]).title).toEqual({ en: null });
  });

  test("a save sends typed values and blanks as null", () => {
    const payload = toPayload(article, {
      title: { en: "Hello", fr: "  " },
      excerpt: { en: "", fr: "" },
      reading_time: "12",
      tags: ["01J0000000000000000000000A"],
      author: "",
      seo: { meta_title: "", meta_description: "About" },
    });
    expect(payload).toEqual({
      title: { en: "Hello", fr: null },
      excerpt: null,
      reading_time: 12,
      tags: ["01J0000000000000000000000A"],
      author: null,
      seo: { meta_title: null, meta_description: "About" },
    });
    // Nonsense stays as typed: the server names the field it refuses.
    expect(toPayload(article, { reading_time: "twelve" })).toEqual({ reading_time: "twelve" });
    expect(toPayload(settings, { social_links: [{ label: "Blog", url: "" }] })).toEqual({
      social_links: [{ label: "Blog", url: null }],
    });
  });

  test("paths of validation errors reach the field they name", () => {
    expect(pathSegments("fields.social_links[2].url")).toEqual(["social_links", 2, "url"]);
    expect(pathSegments("fields.title.fr")).toEqual(["title", "fr"]);
    expect(pathOf(["social_links", 2, "url"])).toBe("fields.social_links[2].url");
    expect(setIn({ a: [{ b: 1 }] }, ["a", 0, "b"], 2)).toEqual({ a: [{ b: 2 }] });
    expect(setIn(null, ["seo", "meta_title"], "x")).toEqual({ seo: { meta_title: "x" } });
  });
});

describe("conflicts", () => {
  const base = { title: { en: "One" }, excerpt: { en: "Short" }, reading_time: 3 };
  const theirs = { title: { en: "One" }, excerpt: { en: "Their excerpt" }, reading_time: 3 };
  const mine = { title: { en: "My title" }, excerpt: { en: "Short" }, reading_time: "3" };

  test("name who changed what", () => {
    expect(changedFields(article, base, mine)).toEqual(["title"]);
    expect(conflictOf(article, base, mine, theirs)).toEqual({ theirs: ["excerpt"], mine: ["title"], both: [] });
    expect(conflictOf(article, base, { ...mine, excerpt: { en: "Mine too" } }, theirs).both).toEqual(["excerpt"]);
  });

  test("keeping mine keeps a colleague's edit to another field", () => {
    expect(keepMine(article, base, mine, theirs)).toEqual({
      title: { en: "My title" },
      excerpt: { en: "Their excerpt" },
      reading_time: 3,
    });
  });
});

describe("text", () => {
  test("slugs match the server's", () => {
    expect(slugify("Hello, World!")).toBe("hello-world");
    expect(slugify("  Crème brûlée  à la carte ")).toBe("creme-brulee-a-la-carte");
    expect(slugify("Rust 2024: async -- fn")).toBe("rust-2024-async-fn");
    expect(slugify("Straße")).toBe("strasse");
    expect(slugify("日本語")).toBe("");
  });

  test("date-times round-trip through the browser's local input", () => {
    const iso = "2026-03-04T05:06:00.000Z";
    expect(fromLocalInput(toLocalInput(iso))).toBe(iso);
    expect(fromLocalInput("")).toBeNull();
    expect(toLocalInput("not a date")).toBe("");
  });
});

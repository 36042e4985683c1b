// The form generator rendered to HTML: every field type becomes a labelled control of the
// right kind, errors sit beside their control, and read-only forms cannot be changed.
// (Clicking and typing are covered by the browser tests.)

import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, test } from "vitest";
import { Client } from "../api/client";
import { FieldList } from "./Fields";
import { FormContext, type FormContextValue } from "./context";
import { type Fields, type JsonSchema, fieldsOf } from "./model";

const id = { type: "string", minLength: 26, maxLength: 26, description: "The id of a media item." };
const every: JsonSchema = {
  type: "object",
  required: ["title"],
  properties: {
    title: { type: "string", maxLength: 80, "x-folio-type": "text" },
    summary: { type: "string", nullable: true, "x-folio-type": "long_text" },
    body: { type: "string", nullable: true, "x-folio-type": "markdown" },
    count: { type: "integer", minimum: 0, nullable: true, "x-folio-type": "integer" },
    price: { type: "number", nullable: true, "x-folio-type": "float" },
    featured: { type: "boolean", nullable: true, "x-folio-type": "boolean" },
    at: { type: "string", format: "date-time", nullable: true, "x-folio-type": "datetime" },
    day: { type: "string", format: "date", nullable: true, "x-folio-type": "date" },
    kind: { type: "string", enum: ["news", "opinion"], nullable: true, "x-folio-type": "enum" },
    extra: { nullable: true, "x-folio-type": "json" },
    slug: { type: "string", nullable: true, "x-folio-type": "uid", "x-folio-from": "title" },
    contact: { type: "string", format: "email", nullable: true, "x-folio-type": "email" },
    site: { type: "string", format: "uri", nullable: true, "x-folio-type": "url" },
    author: { ...id, nullable: true, "x-folio-type": "relation", "x-folio-target": "author" },
    gallery: { type: "array", items: id, nullable: true, "x-folio-type": "media", "x-folio-accept": ["image/*"] },
    seo: {
      type: "object",
      nullable: true,
      properties: { meta_title: { type: "string", nullable: true, "x-folio-type": "text" } },
      "x-folio-type": "group",
    },
    links: {
      type: "array",
      nullable: true,
      items: { type: "object", required: ["url"], properties: { url: { type: "string", "x-folio-type": "url" } } },
      "x-folio-type": "repeater",
    },
  },
};

function render(values: Fields, over: Partial<FormContextValue> = {}, schema: JsonSchema = every): string {
  const ctx: FormContextValue = {
    client: new Client({ fetch: () => Promise.reject(new Error("no network in this test")) }),
    types: [],
    typeId: "page",
    locales: [],
    locale: "",
    values,
    errors: {},
    readOnly: false,
    readOnlyFields: [],
    setInvalid: () => {},
    ...over,
  };
  return renderToStaticMarkup(
    <FormContext.Provider value={ctx}>
      <FieldList specs={fieldsOf(schema)} at={[]} value={values} onChange={() => {}} />
    </FormContext.Provider>,
  );
}

/** The opening tag of the element with `id`. */
function control(html: string, id: string): string {
  const m = html.match(new RegExp(`<(input|textarea|select)[^>]*id="${id}"[^>]*>`));
  expect(m, `a control with id ${id}`).not.toBeNull();
  return m![0];
}

describe("the form generator", () => {
  test("gives every field type a labelled control of its kind", () => {
    const html = render({ links: [{ url: "https://example.com" }], kind: "news", count: 3, featured: true });
    const expectations: [string, RegExp][] = [
      ["title", /^<input[^>]*type="text"[^>]*maxLength="80"/],
      ["summary", /^<textarea/],
      ["body", /^<textarea/],
      ["count", /^<input[^>]*type="number"[^>]*step="1"[^>]*min="0"[^>]*value="3"/],
      ["price", /^<input[^>]*type="number"[^>]*step="any"/],
      ["featured", /^<input[^>]*type="checkbox"[^>]*checked=""/],
      ["at", /^<input[^>]*type="datetime-local"/],
      ["day", /^<input[^>]*type="date"/],
      ["kind", /^<select/],
      ["extra", /^<textarea/],
      ["slug", /^<input[^>]*type="text"/],
      ["contact", /^<input[^>]*type="email"/],
      ["site", /^<input[^>]*type="url"/],
      ["author", /^<input[^>]*role="combobox"/],
      ["gallery", /^<input[^>]*type="file"[^>]*multiple=""[^>]*accept="image\/\*"/],
      ["seo-meta_title", /^<input[^>]*type="text"/],
      ["links-0-url", /^<input[^>]*type="url"[^>]*value="https:\/\/example.com"/],
    ];
    for (const [name, shape] of expectations) {
      const idAttr = `f-fields-${name}`;
      expect(control(html, idAttr), name).toMatch(shape);
      expect(html, `label for ${name}`).toContain(`for="${idAttr}"`);
    }
    expect(html).toMatch(/<option value="news" selected="">news<\/option>/);
    expect(html).toContain("<legend>Seo</legend>");
    expect(html).toMatch(/Remove links 1|aria-label="Remove Links 1"/);
    expect(html).toContain(">Add links</button>");
    // The required field is marked; the generic id description is not shown to editors.
    expect(html).toMatch(/Title<span class="req" aria-hidden="true"> \*<\/span>/);
    expect(html).not.toContain("The id of a media item");
  });

  test("puts a server error beside its control", () => {
    const html = render(
      { links: [{ url: "nope" }] },
      { errors: { "fields.title": "is required", "fields.links[0].url": "is not a URL" } },
    );
    const title = control(html, "f-fields-title");
    expect(title).toContain('aria-invalid="true"');
    expect(title).toContain('aria-describedby="f-fields-title-error"');
    expect(html).toContain('<span id="f-fields-title-error" class="field-error">is required</span>');
    expect(control(html, "f-fields-links-0-url")).toContain('aria-invalid="true"');
    expect(html).toContain("is not a URL");
    expect(control(html, "f-fields-summary")).not.toContain("aria-invalid");
  });

  test("shows the chosen locale of localised fields, with that locale's errors", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: {
        title: {
          type: "object",
          "x-folio-localized": true,
          "x-folio-type": "text",
          required: ["en"],
          properties: { en: { type: "string" }, fr: { type: "string", nullable: true } },
        },
      },
    };
    const values = { title: { en: "Hello", fr: "Bonjour" } };
    const fr = render(
      values,
      { locales: ["en", "fr"], locale: "fr", errors: { "fields.title.fr": "too long" } },
      schema,
    );
    expect(control(fr, "f-fields-title-fr")).toContain('value="Bonjour"');
    expect(fr).toContain("too long");
    expect(fr).not.toContain('value="Hello"');
    // A whole-field error (no locale) shows on every locale's control.
    const en = render(
      { title: null },
      { locales: ["en", "fr"], locale: "en", errors: { "fields.title": "is required" } },
      schema,
    );
    expect(control(en, "f-fields-title-en")).toContain('aria-invalid="true"');
  });

  test("disables every control of a read-only form, and read-only fields of an editable one", () => {
    const html = render({}, { readOnly: true });
    for (const name of ["title", "body", "count", "kind", "author", "gallery"]) {
      expect(control(html, `f-fields-${name}`), name).toContain('disabled=""');
    }
    const partly = render({}, { readOnlyFields: ["slug"] });
    expect(control(partly, "f-fields-slug")).toContain('disabled=""');
    expect(control(partly, "f-fields-title")).not.toContain("disabled");
  });
});

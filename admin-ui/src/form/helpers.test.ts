import { describe, expect, test } from "vitest";
import { applyEdit } from "./Markdown";
import { accepts, thumbnailUrl } from "./MediaPicker";
import { siteLocales } from "../pages/media/locales";

describe("the Markdown toolbar", () => {
  test("wraps the selection, or a placeholder, and selects what it wrapped", () => {
    expect(applyEdit("say hello now", 4, 9, { wrap: ["**", "**"], placeholder: "bold text" })).toEqual({
      text: "say **hello** now",
      start: 6,
      end: 11,
    });
    expect(applyEdit("ab", 1, 1, { wrap: ["_", "_"], placeholder: "italic" }).text).toBe("a_italic_b");
  });

  test("prefixes every selected line from the start of the first", () => {
    const r = applyEdit("intro\none\ntwo", 8, 13, { prefix: "- ", placeholder: "item" });
    expect(r.text).toBe("intro\n- one\n- two");
    expect(r.text.slice(r.start, r.end)).toBe("- one\n- two");
    expect(applyEdit("", 0, 0, { prefix: "## ", placeholder: "Heading" }).text).toBe("## Heading");
  });
});

describe("media helpers", () => {
  test("accept patterns match as a file input's do", () => {
    expect(accepts(["image/*"], "image/png")).toBe(true);
    expect(accepts(["image/*"], "application/pdf")).toBe(false);
    expect(accepts(["application/pdf"], "application/pdf")).toBe(true);
    expect(accepts([], "anything/at-all")).toBe(true);
  });

  test("thumbnails are asked of the server for raster images only", () => {
    expect(thumbnailUrl({ url: "/media/1/a.png", mime: "image/png" }, 80)).toBe("/media/1/a.png?w=80&h=80&fit=cover");
    expect(thumbnailUrl({ url: "/media/1/a.svg", mime: "image/svg+xml" })).toBeNull();
    expect(thumbnailUrl({ url: "/media/1/a.pdf", mime: "application/pdf" })).toBeNull();
  });

  test("the site's locales are every type's, in first-seen order", () => {
    const t = (locales: string[]) => ({ locales }) as never;
    expect(siteLocales([t([]), t(["en", "fr"]), t(["fr", "de"])])).toEqual(["en", "fr", "de"]);
    expect(siteLocales([t([])])).toEqual([]);
  });
});

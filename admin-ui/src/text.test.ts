import { describe, expect, it } from "vitest";
import { cellText, changedQuery, dateTime, fileSize, filterQuery, pickParams, safeNext } from "./text";

describe("safeNext", () => {
  it("keeps paths inside the admin UI", () => {
    expect(safeNext("/content/article?page=2")).toBe("/content/article?page=2");
    expect(safeNext(null)).toBe("/");
  });
  it("never sends the editor to another site", () => {
    for (const bad of ["https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]) {
      expect(safeNext(bad)).toBe("/");
    }
  });
});

describe("cellText", () => {
  it("shows localised values in the default locale and lists joined", () => {
    expect(cellText({ en: "Hello", fr: "Bonjour" }, "en")).toBe("Hello");
    expect(cellText({ fr: "Bonjour" }, "en")).toBe("");
    // Another locale falls back to the default where it has no text.
    expect(cellText({ en: "Hello", fr: "" }, "fr", "en")).toBe("Hello");
    expect(cellText({ en: "Hello", fr: "Bonjour" }, "fr", "en")).toBe("Bonjour");
    expect(cellText(["a", "b"])).toBe("a, b");
    expect(cellText(null)).toBe("");
    expect(cellText(42)).toBe("42");
  });
  it("cuts long text", () => {
    const text = cellText("x".repeat(200));
    expect(text.length).toBe(80);
    expect(text.endsWith("…")).toBe(true);
  });
});

describe("filter queries", () => {
  it("keep the trimmed values that are set", () => {
    expect(filterQuery({ kind: " entry ", type: "", subject: "   " }).toString()).toBe("kind=entry");
  });
  it("pick the named parameters on top of a base", () => {
    const params = new URLSearchParams("kind=entry&colour=red&after=");
    expect(pickParams(params, ["kind", "after"], { limit: "50" }).toString()).toBe("limit=50&kind=entry");
  });
});

describe("sizes and times", () => {
  it("write a file's size in the largest unit under 1024", () => {
    expect(fileSize(undefined)).toBe("");
    expect(fileSize(1023)).toBe("1023 B");
    expect(fileSize(1536)).toBe("1.5 KB");
    expect(fileSize(5 * 1024 * 1024)).toBe("5.0 MB");
  });
  it("write a missing moment as a dash", () => {
    expect(dateTime(null)).toBe("—");
    expect(dateTime(undefined)).toBe("—");
    expect(dateTime("2026-01-02T03:04:05Z")).not.toBe("—");
  });
});

describe("changedQuery", () => {
  it("changes the query as it is, and goes back to the first page", () => {
    const next = changedQuery({ status: "", locale: "fr" }, "?status=draft&page=3&sort=title");
    expect(next.toString()).toBe("sort=title&locale=fr");
  });

  it("keeps the page it is given", () => {
    expect(changedQuery({ page: "2" }, "q=a").toString()).toBe("q=a&page=2");
  });
});

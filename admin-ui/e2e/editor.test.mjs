// The entry editor in a real browser against the real server: an article written with a
// relation, tags and a dropped-in cover image, saved as a draft, published and read back from
// the delivery API; a validation error beside its field; a conflict between two editors; a
// role without the publish permission; unsaved work surviving a reload.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, bearerLogin, setupAdmin, startFolio } from "./server.mjs";
import { launch, png, screenshot, signIn } from "./browser.mjs";

const EMAIL = "chief@example.com";
const PASSWORD = "lantern orchard velvet 42";

let server;
let browser;
let token;
let author;
const tags = {};

before(async () => {
  server = await startFolio();
  browser = await launch();
  token = await setupAdmin(server, { email: EMAIL, password: PASSWORD });
  const a = await api(server, token, "POST", "/content/author", {
    fields: { name: "Ada Lovelace", email: "ada@example.com" },
  });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  author = a.body.data;
  for (const name of ["rust", "databases"]) {
    const t = await api(server, token, "POST", "/content/tag", { fields: { name } });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    tags[name] = t.body.data.id;
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A signed-in page in its own browser context (its own cookies). */
async function editorPage(email = EMAIL, password = PASSWORD) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page, server.base, email, password);
  return { page, context, errors };
}

/** Drops a file on an element the way a desktop drag does. */
async function dropFile(page, target, name, bytes, type) {
  const transfer = await page.evaluateHandle(
    ({ name, b64, type }) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type }));
      return dt;
    },
    { name, b64: bytes.toString("base64"), type },
  );
  await target.dispatchEvent("dragover", { dataTransfer: transfer });
  await target.dispatchEvent("drop", { dataTransfer: transfer });
}

function entryId(page) {
  const m = page.url().match(/\/content\/article\/([0-9A-Za-z]{26})$/);
  assert.ok(m, `an entry's URL: ${page.url()}`);
  return m[1];
}

test("an editor writes an article with an author, tags and a dropped-in cover, then publishes it", async () => {
  const { page, context, errors } = await editorPage();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Article" }).click();
  await page.getByRole("link", { name: "New article" }).click();
  await page.getByRole("heading", { level: 1, name: "New article" }).waitFor();

  await page.getByRole("textbox", { name: "Title (en)" }).fill("Tokio in practice");
  await page.getByRole("button", { name: "Generate" }).click();
  assert.equal(await page.getByRole("textbox", { name: "Slug" }).inputValue(), "tokio-in-practice");

  // Markdown with the toolbar and the server-rendered preview.
  const body = page.getByRole("textbox", { name: "Body (en)" });
  await body.fill("Async Rust, ");
  await body.press("End");
  await page.getByRole("toolbar", { name: "Body formatting" }).getByRole("button", { name: "Bold" }).click();
  await body.press("Control+a");
  assert.match(await body.inputValue(), /Async Rust, \*\*bold text\*\*/);
  await page.getByRole("region", { name: "Body preview" }).locator("strong", { hasText: "bold text" }).waitFor();

  // Relations, searched by title.
  const authorBox = page.getByRole("combobox", { name: "Author" });
  await authorBox.fill("Ada");
  await page.getByRole("option", { name: "Ada Lovelace" }).click();
  await page.getByRole("list", { name: "Author: chosen" }).getByText("Ada Lovelace").waitFor();
  const tagBox = page.getByRole("combobox", { name: "Tags" });
  await tagBox.fill("rus");
  await page.getByRole("option", { name: "rust" }).click();
  await tagBox.fill("data");
  await tagBox.press("ArrowDown");
  await page.getByRole("option", { name: "databases" }).waitFor();
  await tagBox.press("Enter");
  await page.getByRole("list", { name: "Tags: chosen" }).getByText("databases").waitFor();

  // The cover is dragged in from the desktop.
  const cover = page.locator(".field-media").filter({ has: page.getByText("Cover", { exact: true }) });
  await dropFile(page, cover.locator(".media-picker"), "harbour.png", png(64, 48, [30, 90, 200]), "image/png");
  const chosen = page.getByRole("list", { name: "Cover: chosen" });
  await chosen.getByText("harbour.png").waitFor();
  // The thumbnail is a server-made variant the signed-in editor may see.
  await page.waitForFunction(() => {
    const img = document.querySelector(".thumbs img");
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
  });

  await page.getByRole("button", { name: "Save draft" }).click();
  await page.getByRole("status").getByText("Created.").waitFor();
  await page.waitForURL(/\/admin\/content\/article\/[0-9A-Za-z]{26}$/);
  const id = entryId(page);
  await page.getByText("draft", { exact: true }).first().waitFor();

  // A draft is not delivered.
  let delivered = await api(server, null, "GET", `/api/v1/content/article/${id}`);
  assert.equal(delivered.status, 404);

  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.getByRole("status").getByText("Published.").waitFor();
  await page.getByRole("region", { name: "Body preview" }).locator("strong").waitFor();
  await screenshot(page, "editor");
  delivered = await api(server, null, "GET", `/api/v1/content/article/${id}?populate=author,tags,cover`);
  assert.equal(delivered.status, 200, JSON.stringify(delivered.body));
  const f = delivered.body.data.fields;
  assert.equal(f.title, "Tokio in practice");
  assert.equal(f.slug, "tokio-in-practice");
  assert.equal(f.author.fields.name, "Ada Lovelace");
  assert.deepEqual(
    f.tags.map((t) => t.fields.name),
    ["rust", "databases"],
  );
  assert.equal(f.cover.mime, "image/png");
  assert.equal(f.cover.width, 64);

  // The French title, through the locale switcher.
  await page.getByRole("group", { name: "Locale" }).getByRole("button", { name: "fr" }).click();
  await page.getByRole("textbox", { name: "Title (fr)" }).fill("Tokio en pratique");
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.getByRole("status").getByText("Published.").waitFor();
  delivered = await api(server, null, "GET", `/api/v1/content/article/${id}?locale=fr`);
  assert.equal(delivered.body.data.fields.title, "Tokio en pratique");
  await page.getByRole("group", { name: "Locale" }).getByRole("button", { name: "en (default)" }).click();

  // An edit, published again, reaches the delivery API too.
  await page.getByRole("textbox", { name: "Title (en)" }).fill("Tokio in practice, revised");
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.getByRole("status").getByText("Published.").waitFor();
  delivered = await api(server, null, "GET", `/api/v1/content/article/${id}`);
  assert.equal(delivered.body.data.fields.title, "Tokio in practice, revised");

  // The list shows it, with its author's name and its status.
  await page.getByRole("link", { name: "Article", exact: true }).first().click();
  const row = page.getByRole("row").filter({ hasText: "Tokio in practice, revised" });
  await row.getByText("Ada Lovelace").waitFor();
  await row.getByText("published").waitFor();
  await screenshot(page, "list");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a validation error is shown beside its field and nothing typed is lost", async () => {
  const { page, context } = await editorPage();
  await page.goto(`${server.base}/admin/content/article/new`);
  await page.getByRole("heading", { level: 1, name: "New article" }).waitFor();
  await page.getByRole("textbox", { name: "Slug" }).fill("Not a slug!");
  await page.getByRole("textbox", { name: "Excerpt (en)" }).fill("Kept after the failed save");
  await page.getByRole("button", { name: "Save draft" }).click();

  const alert = page.getByRole("alert");
  await alert.waitFor();
  // Each failing field is named in the summary and beside the control itself.
  const title = page.getByRole("textbox", { name: "Title (en)" });
  assert.equal(await title.getAttribute("aria-invalid"), "true");
  const titleError = page.locator("#f-fields-title-en-error");
  await alert.getByRole("button", { name: "title" }).waitFor();
  assert.match(await titleError.innerText(), /required/i);
  const slugError = page.locator("#f-fields-slug-error");
  await slugError.waitFor();
  assert.equal(await page.getByRole("textbox", { name: "Excerpt (en)" }).inputValue(), "Kept after the failed save");
  await screenshot(page, "validation");

  // Fixing them saves.
  await title.fill("Now with a title");
  await page.getByRole("textbox", { name: "Slug" }).fill("now-with-a-title");
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.getByRole("status").getByText("Created.").waitFor();
  assert.equal(await titleError.count(), 0);
  await context.close();
});

test("a conflict between two editors shows both sides and keeps both edits when asked", async () => {
  const created = await api(server, token, "POST", "/content/article", {
    fields: { title: { en: "Shared draft" }, excerpt: { en: "Original excerpt" } },
  });
  assert.equal(created.status, 201);
  const id = created.body.data.id;
  const a = await editorPage();
  const b = await editorPage();
  for (const { page } of [a, b]) {
    await page.goto(`${server.base}/admin/content/article/${id}`);
    await page.getByRole("heading", { level: 1, name: "Shared draft" }).waitFor();
  }

  await a.page.getByRole("textbox", { name: "Excerpt (en)" }).fill("Their excerpt");
  await a.page.getByRole("button", { name: "Save draft" }).click();
  await a.page.getByRole("status").getByText("Draft saved.").waitFor();

  await b.page.getByRole("textbox", { name: "Title (en)" }).fill("My title");
  // B asks to publish: after the conflict, keeping theirs publishes the merged version.
  await b.page.getByRole("button", { name: "Publish", exact: true }).click();
  const dialog = b.page.getByRole("dialog", { name: "Someone else saved this entry" });
  await dialog.waitFor();
  await dialog.getByRole("row").filter({ hasText: "Excerpt (they changed)" }).getByText("Their excerpt").waitFor();
  await dialog.getByRole("row").filter({ hasText: "Title (you changed)" }).getByText("My title").waitFor();
  await screenshot(b.page, "conflict");

  // Nothing was overwritten while the dialog is open.
  let current = await api(server, token, "GET", `/content/article/${id}`);
  assert.deepEqual(current.body.data.fields.title, { en: "Shared draft" });

  await dialog.getByRole("button", { name: "Keep my changes" }).click();
  await b.page.getByRole("status").getByText("Published.").waitFor();
  current = await api(server, token, "GET", `/content/article/${id}`);
  assert.equal(current.body.data.fields.title.en, "My title");
  assert.equal(current.body.data.fields.excerpt.en, "Their excerpt");
  const delivered = await api(server, null, "GET", `/api/v1/content/article/${id}`);
  assert.equal(delivered.body.data.fields.title, "My title");
  assert.equal(delivered.body.data.fields.excerpt, "Their excerpt");
  await a.context.close();
  await b.context.close();
});

test("an author sees no publish button, and the API refuses them anyway", async () => {
  const email = "writer@example.com";
  const password = "a long author password";
  const made = await api(server, token, "POST", "/users", { email, password, role: "author", name: "Writer" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const { page, context } = await editorPage(email, password);
  await page.goto(`${server.base}/admin/content/article/new`);
  await page.getByRole("textbox", { name: "Title (en)" }).fill("Written by an author");
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.getByRole("status").getByText("Created.").waitFor();
  const id = entryId(page);
  assert.equal(await page.getByRole("button", { name: "Publish", exact: true }).count(), 0);

  // The same session, straight to the API: refused.
  const status = await page.evaluate(async (path) => {
    const csrf = document.cookie
      .split(";")
      .map((c) => c.trim().split("="))
      .find(([k]) => k === "folio_csrf")?.[1];
    const r = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": decodeURIComponent(csrf ?? "") },
      body: "{}",
    });
    return r.status;
  }, `/admin/api/v1/content/article/${id}/publish`);
  assert.equal(status, 403);
  const authorToken = await bearerLogin(server, email, password);
  const refused = await api(server, authorToken, "POST", `/content/article/${id}/publish`, {});
  assert.equal(refused.status, 403);
  await context.close();
});

test("unsaved changes ask before leaving and come back after a reload", async () => {
  const created = await api(server, token, "POST", "/content/tag", { fields: { name: "kept" } });
  const id = created.body.data.id;
  const { page, context } = await editorPage();
  await page.goto(`${server.base}/admin/content/tag/${id}`);
  await page.getByRole("heading", { level: 1, name: "kept" }).waitFor();
  await page.getByRole("textbox", { name: "Name" }).fill("kept and changed");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Author" }).click();
  const ask = page.getByRole("dialog", { name: "Leave with unsaved changes?" });
  await ask.waitFor();
  await ask.getByRole("button", { name: "Cancel" }).click();
  assert.match(page.url(), new RegExp(`/content/tag/${id}$`));

  // A reload (or a crash) loses nothing: the browser kept the text.
  await page.waitForTimeout(500);
  page.once("dialog", (d) => void d.accept());
  await page.reload();
  const offer = page.getByRole("region", { name: "Unsaved changes kept in this browser" });
  await offer.waitFor();
  await offer.getByRole("button", { name: "Restore them" }).click();
  assert.equal(await page.getByRole("textbox", { name: "Name" }).inputValue(), "kept and changed");
  await page
    .getByRole("button", { name: "Save draft" })
    .or(page.getByRole("button", { name: "Save", exact: true }))
    .click();
  await page.getByRole("status").waitFor();
  const saved = await api(server, token, "GET", `/content/tag/${id}`);
  assert.equal(saved.body.data.fields.name, "kept and changed");
  await context.close();
});

test("the list searches, filters, sorts and publishes in bulk", async () => {
  const ids = {};
  for (const [title, withAuthor] of [
    ["Zebra crossings explained", true],
    ["Aardvark habitats", false],
    ["Marmot burrows", true],
  ]) {
    const made = await api(server, token, "POST", "/content/article", {
      fields: {
        title: { en: title },
        excerpt: { en: "Field notes on wildlife" },
        ...(withAuthor ? { author: author.id } : {}),
      },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    ids[title] = made.body.data.id;
  }
  const { page, context, errors } = await editorPage();
  await page.goto(`${server.base}/admin/content/article`);
  const table = page.getByRole("table", { name: "Article: entries" });

  // Full-text search over drafts (the index catches up within a second).
  await page.getByLabel("Search article").fill("wildlife");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.waitForURL(/q=wildlife/);
  const found = async () => {
    await page.getByText("Best matches first").waitFor();
    await table.waitFor();
    return (await table.getByRole("link").allInnerTexts()).length;
  };
  for (let i = 0; i < 30 && (await found()) < 3; i++) {
    await page.waitForTimeout(200);
    await page.reload();
  }
  assert.deepEqual((await table.getByRole("link").allInnerTexts()).sort(), [
    "Aardvark habitats",
    "Marmot burrows",
    "Zebra crossings explained",
  ]);
  await page.getByRole("button", { name: "Clear the search" }).click();

  // Filter by author, sort by title.
  const authorFilter = page.getByRole("search").getByRole("combobox", { name: "Author" });
  await authorFilter.fill("Ada");
  await page.getByRole("option", { name: "Ada Lovelace" }).click();
  await page.waitForURL(/filter%5Bauthor%5D=|filter\[author\]=/);
  await page.getByRole("button", { name: /^Title/ }).click();
  await page.waitForURL(/sort=title/);
  // The address changes before the list shows the new answer: wait for the answer itself.
  const sortedByTitle = async () => {
    const t = await table.getByRole("link").allInnerTexts();
    return (
      t.includes("Zebra crossings explained") && t.join("\n") === [...t].sort((a, b) => a.localeCompare(b)).join("\n")
    );
  };
  for (let i = 0; i < 50 && !(await sortedByTitle()); i++) await page.waitForTimeout(100);
  let titles = await table.getByRole("link").allInnerTexts();
  assert.ok(!titles.includes("Aardvark habitats"), titles.join(", "));
  assert.deepEqual(
    titles,
    [...titles].sort((a, b) => a.localeCompare(b)),
  );
  await page.getByRole("button", { name: /^Title/ }).click();
  await page.waitForURL(/sort=-title/);
  await table.locator("tbody tr").first().getByRole("link", { name: "Zebra crossings explained" }).waitFor();
  await page.getByRole("search").getByRole("button", { name: "Remove Ada Lovelace" }).click();
  await page.waitForURL((u) => !u.search.includes("author"));

  // Drafts only, two of them published at once.
  await page.getByLabel("Status").selectOption("draft");
  await page.waitForURL(/filter%5Bstatus%5D=draft|filter\[status\]=draft/);
  await table.getByRole("link", { name: "Marmot burrows" }).waitFor();
  await page.getByLabel("Select Marmot burrows").check();
  await page.getByLabel("Select Aardvark habitats").check();
  await page
    .getByRole("group", { name: "Selected entries" })
    .getByRole("button", { name: "Publish", exact: true })
    .click();
  await page
    .getByRole("dialog", { name: "Publish 2 entries?" })
    .getByRole("button", { name: "Publish", exact: true })
    .click();
  await page.getByRole("status").getByText("2 entries published.").waitFor();
  // The list reloads after the action: published entries leave it.
  await table.getByRole("link", { name: "Marmot burrows" }).waitFor({ state: "detached" });
  await table.getByRole("link", { name: "Zebra crossings explained" }).waitFor();
  titles = await table.getByRole("link").allInnerTexts();
  assert.ok(!titles.includes("Marmot burrows"), "published entries leave the drafts filter");
  for (const title of ["Marmot burrows", "Aardvark habitats"]) {
    const d = await api(server, null, "GET", `/api/v1/content/article/${ids[title]}`);
    assert.equal(d.status, 200, title);
  }
  const zebra = await api(server, null, "GET", `/api/v1/content/article/${ids["Zebra crossings explained"]}`);
  assert.equal(zebra.status, 404);

  // Another locale: its titles (the default's where there is no translation).
  // The status filter cleared and the locale switched in one go, before the list re-renders:
  // the second change keeps the first.
  await page.evaluate(() => {
    const choose = (label, value) => {
      const select = [...document.querySelectorAll("label")].find((l) => l.textContent.trim() === label)?.control;
      select.value = value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    };
    choose("Status", "");
    choose("Locale", "fr");
  });
  await page.waitForURL((url) => url.searchParams.get("locale") === "fr" && !url.searchParams.has("status"));
  await table.getByRole("link", { name: "Tokio en pratique" }).waitFor();
  await table.getByRole("link", { name: "Marmot burrows" }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test("a single type opens its one entry; enums, repeaters and JSON are edited in the form", async () => {
  const { page, context, errors } = await editorPage();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Site settings" }).click();
  // No entry yet: the list is skipped for a new one.
  await page.getByRole("heading", { level: 1, name: "New site settings" }).waitFor();
  await page.getByRole("textbox", { name: "Site name" }).fill("Harbour Notes");
  await page.getByLabel("Theme").selectOption("dark");

  const links = page.getByRole("group", { name: "Social links" });
  await links.getByRole("button", { name: "Add social links" }).click();
  await links.getByRole("button", { name: "Add social links" }).click();
  await links.getByRole("button", { name: "Add social links" }).click();
  const label = (i) => links.locator(`#f-fields-social_links-${i}-label`);
  const url = (i) => links.locator(`#f-fields-social_links-${i}-url`);
  await label(0).fill("Mastodon");
  await url(0).fill("https://example.social/@harbour");
  await label(1).fill("Feed");
  await url(1).fill("https://example.com/feed.xml");
  await label(2).fill("Gone");
  await url(2).fill("https://example.com/gone");
  await links.getByRole("button", { name: "Remove Social links 3" }).click();
  await links.getByRole("button", { name: "Move Social links 2 up" }).click();
  assert.equal(await label(0).inputValue(), "Feed");

  // JSON is checked as it is typed; a save waits for it to parse.
  const analytics = page.getByRole("textbox", { name: "Analytics" });
  await analytics.fill('{"id": ');
  await page.getByText(/Not valid JSON/).waitFor();
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page
    .getByRole("alert")
    .getByText(/not valid JSON/)
    .waitFor();
  await analytics.fill('{"id": "G-1", "anonymize": true}');
  assert.equal(await page.getByText(/Not valid JSON/).count(), 0);

  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.getByRole("status").getByText("Created and published.").waitFor();
  const id = page.url().match(/site-settings\/([0-9A-Za-z]{26})$/)?.[1];
  assert.ok(id, page.url());
  const delivered = await api(server, null, "GET", "/api/v1/content/site-settings");
  // A single type is delivered as its one entry.
  const f = delivered.body.data.fields;
  assert.equal(f.site_name, "Harbour Notes");
  assert.equal(f.theme, "dark");
  assert.deepEqual(
    f.social_links.map((l) => l.label),
    ["Feed", "Mastodon"],
  );
  assert.deepEqual(f.analytics, { id: "G-1", anonymize: true });

  // Once it exists, the type's link opens it directly.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Article" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Site settings" }).click();
  await page.waitForURL(new RegExp(`/content/site-settings/${id}$`));
  await page
    .getByRole("heading", { level: 1, name: "Site settings" })
    .or(page.getByRole("heading", { level: 1, name: id }))
    .waitFor();
  assert.equal(await page.getByRole("textbox", { name: "Site name" }).inputValue(), "Harbour Notes");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a custom role sees only its fields, edits only what it may, and is offered only its actions", async () => {
  const role = await api(server, token, "PUT", "/roles/reviewer", {
    permissions: { article: ["read", "update"], author: ["read"], tag: ["read"] },
    hidden_fields: { article: ["editor_notes"] },
    read_only_fields: { article: ["slug"] },
  });
  assert.equal(role.status, 200, JSON.stringify(role.body));
  const email = "reviewer@example.com";
  const password = "amber quarry 3381 tide";
  const made = await api(server, token, "POST", "/users", { email, password, role: "reviewer", name: "Reviewer" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const created = await api(server, token, "POST", "/content/article", {
    fields: { title: { en: "Under review" }, slug: "under-review", editor_notes: "for editors only" },
  });
  const id = created.body.data.id;

  const { page, context, errors } = await editorPage(email, password);
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Article" }).waitFor();
  // Types it may not read are not offered; neither is administration.
  assert.equal(await nav.getByRole("link", { name: "Site settings" }).count(), 0);
  assert.equal(await nav.getByRole("link", { name: "Users" }).count(), 0);
  await nav.getByRole("link", { name: "Article" }).click();
  // The list has loaded (and would show its "New article" link by now).
  await page.getByRole("link", { name: "Under review" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "New article" }).count(), 0);

  await page.goto(`${server.base}/admin/content/article/${id}`);
  await page.getByRole("heading", { level: 1, name: "Under review" }).waitFor();
  assert.equal(await page.getByRole("textbox", { name: "Editor notes" }).count(), 0);
  assert.equal(await page.getByRole("textbox", { name: "Slug" }).isDisabled(), true);
  for (const action of ["Publish", "Delete"]) {
    assert.equal(await page.getByRole("button", { name: action, exact: true }).count(), 0, action);
  }
  await page.getByRole("textbox", { name: "Title (en)" }).fill("Reviewed");
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.getByRole("status").getByText("Draft saved.").waitFor();
  const saved = await api(server, token, "GET", `/content/article/${id}`);
  assert.equal(saved.body.data.fields.title.en, "Reviewed");
  assert.equal(saved.body.data.fields.editor_notes, "for editors only");
  assert.deepEqual(errors, []);
  await context.close();
});

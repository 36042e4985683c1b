// First-admin setup, sign-in, the content lists, deep links on reload, an expired session
// returning to the same page, and sign-out, in a real browser against the real server.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startFolio } from "./server.mjs";
import { launch } from "./browser.mjs";

const EMAIL = "editor-in-chief@example.com";
const PASSWORD = "lantern orchard velvet 42";

let server;
let browser;

before(async () => {
  server = await startFolio();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the first administrator is created from the setup link, then signs in", async () => {
  assert.ok(server.setupUrl, `the server logs a setup link:\n${server.logs()}`);
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  await page.goto(server.setupUrl);
  await page.getByLabel("Name").fill("Chief");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole("button", { name: "Create administrator" }).click();
  // Setting up signs the administrator in.
  await page.getByRole("heading", { level: 1, name: "Content" }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();

  await page.waitForURL("**/admin/login");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /email address or password/i);

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Article" }).click();
  await page.waitForURL("**/admin/content/article");
  await page.getByRole("heading", { level: 1, name: "Article" }).waitFor();
  await page.getByText("No entries yet.").waitFor();

  // A deep link survives a reload.
  await page.reload();
  await page.getByRole("heading", { level: 1, name: "Article" }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test("an expired session returns to sign-in, then to the same page", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/admin/content/tag`);
  // Not signed in: the sign-in page, remembering where the editor was going.
  await page.waitForURL(/\/admin\/login\?next=%2Fcontent%2Ftag/);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/admin/content/tag");
  await page.getByRole("heading", { level: 1, name: "Tag" }).waitFor();

  // The session ends on the server (as when it expires); the next call brings sign-in back.
  await context.clearCookies();
  await page.getByRole("link", { name: "Author" }).click();
  await page.waitForURL(/\/admin\/login\?next=%2Fcontent%2Fauthor/);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/admin/content/author");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/admin/login");
  await page.goto(`${server.base}/admin/`);
  await page.waitForURL(/\/admin\/login/);
  await context.close();
});

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
  // One of the page's requests made in the ended session is answered (401) only after the
  // editor has signed in again: it must not end the new session.
  await context.clearCookies();
  let signedIn;
  const signedInAgain = new Promise((ok) => (signedIn = ok));
  let held = false;
  await page.route("**/admin/api/v1/types/author", async (route) => {
    if (held) return route.continue();
    held = true;
    // The server's answer now (no session), delivered to the page after the new sign-in.
    const response = await route.fetch();
    await signedInAgain;
    await route.fulfill({ response });
  });
  await page.getByRole("link", { name: "Author" }).click();
  await page.waitForURL(/\/admin\/login\?next=%2Fcontent%2Fauthor/);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  // Signing in asks who the editor is (`/auth/me`); the late 401 comes after that answer, with
  // the author list on screen.
  const me = page.waitForResponse((r) => r.url().endsWith("/auth/me") && r.status() === 200);
  const late = page.waitForResponse((r) => r.url().endsWith("/types/author") && r.status() === 401);
  await page.getByRole("button", { name: "Sign in" }).click();
  await me;
  await page.waitForURL("**/admin/content/author");
  await page.getByRole("heading", { level: 1, name: "Author" }).waitFor();
  signedIn();
  await late;
  await page.waitForTimeout(300);
  assert.match(page.url(), /\/admin\/content\/author$/);
  await page.getByRole("heading", { level: 1, name: "Author" }).waitFor({ timeout: 1000 });

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/admin/login");
  await page.goto(`${server.base}/admin/`);
  await page.waitForURL(/\/admin\/login/);
  await context.close();
});

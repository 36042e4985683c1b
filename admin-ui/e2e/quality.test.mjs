// Accessibility and layout of the main screens: no serious axe-core violations, keyboard
// access from the first Tab, and a tablet-width layout without sideways scrolling.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, setupAdmin, startFolio } from "./server.mjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, axeProblems, launch, png, signIn } from "./browser.mjs";

const EMAIL = "chief@example.com";
const PASSWORD = "lantern orchard velvet 42";

let server;
let browser;
let article;

before(async () => {
  server = await startFolio();
  browser = await launch();
  const token = await setupAdmin(server, { email: EMAIL, password: PASSWORD });
  const author = await api(server, token, "POST", "/content/author", {
    fields: { name: "Grace Hopper", email: "grace@example.com" },
  });
  const form = new FormData();
  form.append("file", new Blob([png(80, 60, [10, 120, 200])], { type: "image/png" }), "chart.png");
  const upload = await fetch(`${server.base}/admin/api/v1/media`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  const media = (await upload.json()).data[0];
  const made = await api(server, token, "POST", "/content/article", {
    fields: {
      title: { en: "Compilers" },
      body: { en: "# Why\n\nBecause." },
      author: author.body.data.id,
      cover: media.id,
    },
    publish: true,
  });
  article = made.body.data.id;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the main screens have no serious accessibility problems", async () => {
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${server.base}/admin/login`);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  const problems = { login: await axeProblems(page) };
  await signIn(page, server.base, EMAIL, PASSWORD);
  const screens = [
    ["home", "/admin/", "Content"],
    ["list", "/admin/content/article", "Article"],
    ["editor", `/admin/content/article/${article}`, "Compilers"],
    ["new entry", "/admin/content/site-settings", "New site settings"],
    ["media", "/admin/media", "Media library"],
    ["users", "/admin/settings/users", "Users"],
    ["roles", "/admin/settings/roles", "Roles"],
    ["tokens", "/admin/settings/tokens", "API tokens"],
    ["audit", "/admin/settings/audit", "Audit log"],
    ["events", "/admin/settings/events", "Change events"],
    ["profile", "/admin/profile", "Your profile"],
  ];
  for (const [name, path, heading] of screens) {
    await page.goto(`${server.base}${path}`);
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    await page.waitForLoadState("networkidle");
    // The screen as it settles: nothing still loading.
    await page.locator(".loading").first().waitFor({ state: "detached" });
    problems[name] = await axeProblems(page);
    if (problems[name].length) {
      // What axe saw, for whoever reads the failure.
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(join(ARTIFACTS, `axe-${name.replace(/ /g, "-")}.html`), await page.content());
      await page.screenshot({ path: join(ARTIFACTS, `axe-${name.replace(/ /g, "-")}.png`), fullPage: true });
    }
  }
  const found = Object.entries(problems).filter(([, p]) => p.length);
  assert.deepEqual(found, [], JSON.stringify(found, null, 2));
  await context.close();
});

test("the keyboard reaches the content first and every control is reachable", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, server.base, EMAIL, PASSWORD);
  await page.goto(`${server.base}/admin/content/article/${article}`);
  await page.getByRole("heading", { level: 1, name: "Compilers" }).waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
  // Tabbing on from the content reaches the title field without the mouse.
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement?.id === "f-fields-title-en");
  }
  assert.ok(reached, "Tab reaches the title field");
  await context.close();
});

test("at tablet width the editor and the lists fit without sideways scrolling", async () => {
  const context = await browser.newContext({ viewport: { width: 768, height: 1024 } });
  const page = await context.newPage();
  await signIn(page, server.base, EMAIL, PASSWORD);
  for (const [path, heading] of [
    [`/admin/content/article/${article}`, "Compilers"],
    ["/admin/content/article", "Article"],
    ["/admin/media", "Media library"],
  ]) {
    await page.goto(`${server.base}${path}`);
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `${path}: ${scroll}px wide in a ${width}px window`);
  }
  await page.goto(`${server.base}/admin/content/article/${article}`);
  await page.getByRole("heading", { level: 1, name: "Compilers" }).waitFor();
  await page.screenshot({ path: new URL("./artifacts/editor-tablet.png", import.meta.url).pathname });
  await context.close();
});

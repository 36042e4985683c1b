// The media library, administration and account recovery in a real browser: uploads with a
// focal point and alt text, usage and the integrity check on delete; inviting and disabling
// users, a custom role's permission matrix, a token shown once and revoked, the audit log;
// a password reset from the sign-in page through the mailed link.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, mailTo, setupAdmin, startFolio } from "./server.mjs";
import { launch, png, screenshot, signIn, totp } from "./browser.mjs";

const EMAIL = "chief@example.com";
const PASSWORD = "lantern orchard velvet 42";

let server;
let browser;
let token;

before(async () => {
  server = await startFolio();
  browser = await launch();
  token = await setupAdmin(server, { email: EMAIL, password: PASSWORD });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function adminPage() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page, server.base, EMAIL, PASSWORD);
  return { page, context, errors };
}

test("media: multi-file upload, list view, folders, focal point and alt text, usage and delete", async () => {
  const { page, context, errors } = await adminPage();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Media library" }).click();
  await page.getByRole("heading", { level: 1, name: "Media library" }).waitFor();
  await page.getByText("No files here yet.").waitFor();

  await page.getByLabel("Upload files").setInputFiles([
    { name: "wide.png", mimeType: "image/png", buffer: png(400, 200, [200, 60, 40]) },
    { name: "square.png", mimeType: "image/png", buffer: png(120, 120, [40, 160, 90]) },
  ]);
  await page.getByRole("status").getByText("2 files uploaded.").waitFor();
  await page.getByRole("button", { name: "Open wide.png" }).waitFor();
  await page.getByRole("button", { name: "Open square.png" }).waitFor();

  await page.getByRole("group", { name: "View" }).getByRole("button", { name: "List" }).click();
  await page.getByRole("cell", { name: "400×200" }).waitFor();
  await page.getByRole("group", { name: "View" }).getByRole("button", { name: "Grid" }).click();

  await page.getByRole("button", { name: "New folder" }).click();
  await page.getByRole("dialog", { name: "New folder" }).getByLabel("Folder name").fill("Covers");
  await page.getByRole("dialog", { name: "New folder" }).getByRole("button", { name: "Save" }).click();
  await page.getByRole("navigation", { name: "Folders" }).getByRole("button", { name: "Covers" }).waitFor();

  // The focal point is where the editor clicks on the image.
  await page.getByRole("button", { name: "Open wide.png" }).click();
  const details = page.getByRole("dialog", { name: "wide.png" });
  const image = details.locator(".focal-picker img");
  await page.waitForFunction(() => {
    const img = document.querySelector(".focal-picker img");
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
  });
  const box = await image.boundingBox();
  await page.mouse.click(box.x + box.width * 0.8, box.y + box.height * 0.3);
  assert.equal(await details.getByLabel("Across (%)").inputValue(), "80");
  assert.equal(await details.getByLabel("Down (%)").inputValue(), "30");
  await details.getByLabel("Alt text (en)").fill("A red harbour wall");
  await details.getByLabel("Folder").selectOption({ label: "Covers" });
  await screenshot(page, "media");
  await details.getByRole("button", { name: "Save" }).click();
  await details.getByRole("status").getByText("Saved.").waitFor();
  await details.getByRole("button", { name: "Close" }).click();

  const list = await api(server, token, "GET", "/media?q=wide");
  const wide = list.body.data[0];
  assert.ok(Math.abs(wide.focal.x - 0.8) < 0.02 && Math.abs(wide.focal.y - 0.3) < 0.02, JSON.stringify(wide.focal));
  assert.deepEqual(wide.alt, { en: "A red harbour wall" });
  assert.ok(wide.folder, "moved into the folder");

  // In use: the details say by whom, and deleting says what it breaks first.
  const article = await api(server, token, "POST", "/content/article", {
    fields: { title: { en: "Harbour walls" }, cover: wide.id },
    publish: true,
  });
  assert.equal(article.status, 201, JSON.stringify(article.body));
  await page.getByRole("navigation", { name: "Folders" }).getByRole("button", { name: "Covers" }).click();
  await page.getByRole("button", { name: "Open wide.png" }).click();
  await details.getByRole("link", { name: "Harbour walls" }).waitFor();
  await details.getByText("published", { exact: true }).waitFor();
  await details.getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete wide.png?" });
  await confirm.getByText(/1 entry uses it, some of them published/).waitFor();
  await confirm.getByRole("button", { name: "Delete and remove from entries" }).click();
  await page.getByText("No files here yet.").waitFor();
  const after = await api(server, token, "GET", `/content/article/${article.body.data.id}`);
  assert.equal(after.body.data.fields.cover ?? null, null);
  assert.deepEqual(errors, []);
  await context.close();
});

test("administration: invite and disable a user, a custom role, a token shown once, the audit log", async () => {
  const { page, context, errors } = await adminPage();
  const nav = page.getByRole("navigation", { name: "Main" });

  await nav.getByRole("link", { name: "Users" }).click();
  await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
  await page.getByLabel("Email").fill("new.editor@example.com");
  await page.getByLabel("Name").fill("New Editor");
  await page.getByLabel("Role", { exact: true }).selectOption("author");
  await page.getByRole("button", { name: "Invite" }).click();
  await page
    .getByRole("status")
    .getByText(/Invitation sent to new.editor@example.com/)
    .waitFor();
  const invite = await mailTo(server, "new.editor@example.com", { containing: /reset-password\?token=/ });
  assert.match(invite, /\/admin\/reset-password\?token=/);
  const row = page.getByRole("row").filter({ hasText: "new.editor@example.com" });
  await row.getByLabel("Role of new.editor@example.com").selectOption("editor");
  await page.getByRole("status").getByText("new.editor@example.com updated.").waitFor();
  await row.getByRole("button", { name: "Disable" }).click();
  await page
    .getByRole("dialog", { name: "Disable new.editor@example.com?" })
    .getByRole("button", { name: "Disable" })
    .click();
  await row.getByText("disabled").waitFor();
  await screenshot(page, "users");
  const users = await api(server, token, "GET", "/users");
  const invited = users.body.data.find((u) => u.email === "new.editor@example.com");
  assert.equal(invited.role, "editor");
  assert.equal(invited.status, "disabled");

  await nav.getByRole("link", { name: "Roles" }).click();
  await page.getByRole("button", { name: "New role" }).click();
  await page.getByLabel("Name").fill("reviewer");
  await page.getByLabel("Article: read").check();
  await page.getByLabel("Article: update").check();
  await page.getByLabel("Media library: read").check();
  await page.getByRole("button", { name: "Save role" }).click();
  await page.getByRole("status").getByText("Role reviewer saved.").waitFor();
  await page.getByRole("row").filter({ hasText: "reviewer" }).getByText("Article: read, update").waitFor();
  const roles = await api(server, token, "GET", "/roles");
  const reviewer = roles.body.data.custom.find((r) => r.name === "reviewer");
  assert.deepEqual(reviewer.permissions, { article: ["read", "update"], media: ["read"] });

  await nav.getByRole("link", { name: "API tokens" }).click();
  await page.getByLabel("Token name").fill("website build");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByRole("region", { name: "New token" });
  const secret = (await shown.locator("code").innerText()).trim();
  assert.match(secret, /^ft_/);
  const ok = await fetch(`${server.base}/api/v1/content/article`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(ok.status, 200);
  await shown.getByRole("button", { name: "Done" }).click();
  // Never shown again.
  await page.reload();
  assert.equal(await page.getByText(secret).count(), 0);
  await page.getByRole("row").filter({ hasText: "website build" }).getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("dialog", { name: "Revoke website build?" }).getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("row").filter({ hasText: "website build" }).getByText("revoked").waitFor();
  const refused = await fetch(`${server.base}/api/v1/content/article`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  assert.equal(refused.status, 401);

  await nav.getByRole("link", { name: "Audit log" }).click();
  await page.getByLabel("Action (or family, e.g. entry)").fill("user");
  await page.getByRole("button", { name: "Filter" }).click();
  // The unfiltered list stays on screen until the filtered one arrives: wait for it to go.
  await page.getByRole("cell", { name: "token.create" }).first().waitFor({ state: "detached" });
  await page.getByRole("cell", { name: "user.create" }).first().waitFor();
  assert.equal(await page.getByRole("cell", { name: "token.create" }).count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the change events show what happened to an entry and lead to it", async () => {
  const made = await api(server, token, "POST", "/content/article", {
    fields: { title: { en: "Followed closely" } },
  });
  assert.equal(made.status, 201);
  const id = made.body.data.id;
  const published = await api(server, token, "POST", `/content/article/${id}/publish`, { version: 1 });
  assert.equal(published.status, 200);
  const { page, context, errors } = await adminPage();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Change events" }).click();
  await page.getByRole("heading", { level: 1, name: "Change events" }).waitFor();
  await page.getByLabel("Entry id").fill(id);
  await page.getByRole("button", { name: "Filter" }).click();
  // The unfiltered list (which has these rows too) stays until the filtered one replaces it.
  await page.waitForFunction((entry) => {
    const rows = [...document.querySelectorAll("tbody tr")];
    return rows.length === 2 && rows.every((r) => r.textContent.includes(entry));
  }, `article/${id}`);
  const rows = page.getByRole("row").filter({ hasText: `article/${id}` });
  await rows.filter({ hasText: "entry.published" }).waitFor();
  await rows.filter({ hasText: "entry.created" }).waitFor();
  assert.equal(await rows.count(), 2);
  await screenshot(page, "events");
  await rows.filter({ hasText: "entry.published" }).getByRole("link").click();
  await page.getByRole("heading", { level: 1, name: "Followed closely" }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test("a forgotten password is reset through the mailed link", async () => {
  const email = "forgetful@example.com";
  const made = await api(server, token, "POST", "/users", {
    email,
    name: "Forgetful",
    role: "editor",
    password: "the password I forgot",
  });
  assert.equal(made.status, 201);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/admin/login`);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  // The sign-in page has an Email field too: wait for the reset page before typing, or the
  // address may go into the page being left.
  await page.getByRole("heading", { name: "Reset your password" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send the link" }).click();
  await page
    .getByRole("status")
    .getByText(/a link to choose a new password is on its way/)
    .waitFor();

  const mail = await mailTo(server, email, { containing: /reset-password\?token=/ });
  const link = mail.match(/https?:\/\/\S+\/admin\/reset-password\?token=[A-Za-z0-9_-]+/)?.[0];
  assert.ok(link, mail);
  await page.goto(link.replace(/^https?:\/\/[^/]+/, server.base));
  // The token leaves the address bar once read.
  await page
    .getByRole("heading", { name: "Choose a password" })
    .waitFor()
    .catch(async (e) => {
      throw new Error(
        `${e.message}\nat ${page.url()}:\n${await page.locator("body").innerText()}\n${server.logs().slice(-3000)}`,
      );
    });
  assert.doesNotMatch(page.url(), /token=/);
  await page.getByLabel("New password (at least 10 characters)").fill("a fresh password 2026");
  await page.getByLabel("The same password again").fill("a fresh password 2026");
  await page.getByRole("button", { name: "Set the password" }).click();
  await page.getByRole("status").getByText("Your password is set.").waitFor();
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a fresh password 2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  await context.close();
});

test("two-factor sign-in is set up on the profile and then asked for at sign-in", async () => {
  const email = "careful@example.com";
  const password = "quiet lighthouse 9071";
  const made = await api(server, token, "POST", "/users", { email, name: "Careful", role: "editor", password });
  assert.equal(made.status, 201);
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, server.base, email, password);
  await page.getByRole("link", { name: /Your profile/ }).click();
  await page.getByRole("heading", { level: 1, name: "Your profile" }).waitFor();
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const secret = (await page.locator("#tfa-title ~ form code").innerText()).trim();
  await page.getByLabel("Code from the app").fill(totp(secret));
  const usedStep = Math.floor(Date.now() / 30_000);
  await page.getByRole("button", { name: "Turn on" }).click();
  const codes = page.getByRole("region", { name: "Recovery codes" });
  await codes.waitFor();
  assert.equal(await codes.getByRole("listitem").count(), 10);
  await codes.getByRole("button", { name: "I have saved them" }).click();
  await page.getByText("On: signing in asks for a code").waitFor();

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/admin/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Verify" }).waitFor();
  await page.getByLabel(/code/i).fill("000000");
  await page.getByRole("button", { name: "Verify" }).click();
  await page.getByRole("alert").waitFor();
  // A code works once: the sign-in needs the next one the app shows.
  while (Math.floor(Date.now() / 30_000) <= usedStep) await page.waitForTimeout(500);
  await page.getByLabel(/code/i).fill(totp(secret));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  await context.close();
});

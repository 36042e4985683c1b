// Starts the real folio binary on a free port with a fresh data directory, for the browser
// tests, and reads the one-time setup link it logs.

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/** `{ base, dataDir, setupUrl, stop() }` for a folio server that is ready to answer. */
export async function startFolio() {
  const bin = process.env.E2E_FOLIO_BIN ?? join(root, "target", "debug", "folio");
  const dataDir = mkdtempSync(join(tmpdir(), "folio-e2e-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // The server reads every FOLIO_* variable as configuration (and refuses unknown ones): it
  // gets only these.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FOLIO_")));
  const child = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`], {
    env: {
      ...inherited,
      FOLIO_DATA_DIR: dataDir,
      FOLIO_CONTENT_TYPES: join(root, "content-types"),
      FOLIO_LOG__FORMAT: "text",
      NO_COLOR: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  const collect = (chunk) => {
    logs += chunk.toString();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((ok) => child.once("exit", ok));
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`folio exited (${child.exitCode}):\n${logs}`);
    }
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`folio never became ready:\n${logs}`);
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  const match = logs.match(/\/admin\/setup#([A-Za-z0-9_-]+)/);
  return { base, dataDir, setupUrl: match ? `${base}/admin/setup#${match[1]}` : null, stop, logs: () => logs };
}

/** Creates the first administrator through the setup link's API; answers a bearer token. */
export async function setupAdmin(server, { email, password, name = "Chief" }) {
  const token = server.setupUrl.split("#")[1];
  const r = await fetch(`${server.base}/admin/api/v1/auth/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, email, password, name }),
  });
  if (!r.ok) throw new Error(`setup: ${r.status} ${await r.text()}`);
  return bearerLogin(server, email, password);
}

/** Signs in through the API with a bearer session, for test fixtures. */
export async function bearerLogin(server, email, password) {
  const r = await fetch(`${server.base}/admin/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, token: "bearer" }),
  });
  if (!r.ok) throw new Error(`login: ${r.status} ${await r.text()}`);
  return (await r.json()).data.session.token;
}

/** An admin API call with a bearer token: `{ status, body }`. */
export async function api(server, token, method, path, body) {
  const r = await fetch(
    `${server.base}${path.startsWith("/api/") || path.startsWith("/media/") ? "" : "/admin/api/v1"}${path}`,
    {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
  );
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: r.status, body: json };
}

/**
 * The newest mail to `to` whose text matches `containing` (an account can get several: a
 * confirmation, then a reset), decoded from quoted-printable; waits for the outbox.
 */
export async function mailTo(server, to, { containing = /./, timeoutMs = 15_000 } = {}) {
  const dir = join(server.dataDir, "mail");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let found = null;
    try {
      // File names are ULIDs: in name order, the last is the newest.
      for (const name of readdirSync(dir).sort()) {
        const text = readFileSync(join(dir, name), "utf8")
          .replace(/=\r?\n/g, "")
          .replace(/=3D/g, "=");
        if ((text.includes(`To: ${to}`) || text.includes(`<${to}>`)) && containing.test(text)) found = text;
      }
    } catch {
      // no mail yet
    }
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(
        `no mail to ${to} matching ${containing} in ${dir}; the server said:\n${server.logs().slice(-3000)}`,
      );
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

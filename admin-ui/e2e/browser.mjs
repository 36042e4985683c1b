// Debian's Chromium driven by playwright-core (no browser download).

import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export async function launch() {
  const executablePath =
    process.env.CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
  if (!executablePath) {
    throw new Error("the browser tests need Chromium: apt-get install chromium (or set CHROMIUM)");
  }
  return chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

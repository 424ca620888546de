#!/usr/bin/env node
// `npm run openapi`: writes docs/openapi.json from what the worker serves, so API changes
// show in a diff (a test fails while the committed copy differs).
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { unstable_startWorker } from "wrangler";
import { readDevVars } from "./dev-vars.mjs";

process.env.WRANGLER_SEND_METRICS = "false";
const root = path.resolve(import.meta.dirname, "..");
const worker = await unstable_startWorker({
  config: path.join(root, "wrangler.toml"),
  bindings: Object.fromEntries(
    Object.entries(readDevVars()).map(([name, value]) => [name, { type: "plain_text", value }]),
  ),
  build: { nodejsCompatMode: () => "v2" },
  dev: {
    inspector: false,
    persist: false,
    watch: false,
    server: { hostname: "127.0.0.1", port: 0 },
    logLevel: "warn",
  },
});
try {
  await worker.ready;
  const res = await fetch(new URL("/openapi.json", await worker.url));
  if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
  const doc = await res.json();
  await mkdir(path.join(root, "docs"), { recursive: true });
  await writeFile(path.join(root, "docs/openapi.json"), `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`docs/openapi.json: ${Object.keys(doc.paths).length} paths`);
} finally {
  await worker.dispose();
}

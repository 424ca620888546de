#!/usr/bin/env node
// `npm run profile`: where a request's CPU goes, per benchmark row. The worker starts as in
// `npm run bench` but with the DevTools inspector on; for each row a CPU profile is taken
// (Profiler.start/stop over the inspector's websocket) while autocannon drives load, and the
// samples are attributed to the module of the bundled worker they ran in (esbuild marks each
// module's start with a `// path` comment), then grouped: runtime and router, JWT, zod,
// drizzle, id generation, mail client, our own code by folder. Figures are CPU time of the
// worker's isolate per request; the inspector itself slows everything, so read the shares,
// not the absolute throughput (that is `npm run bench`, inspector off).
//
// PROFILE_SECONDS (default 5), PROFILE_CONNECTIONS (10). Each .cpuprofile is written to
// .bench/profiles/ and opens in Chrome DevTools (Performance → Load profile).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import {
  client,
  freshState,
  get,
  load,
  post,
  root,
  startMailCapture,
  startWorker,
} from "./bench-kit.mjs";

const seconds = Number(process.env.PROFILE_SECONDS ?? 5);
const connections = Number(process.env.PROFILE_CONNECTIONS ?? 10);
const out = path.join(root, ".bench", "profiles");
mkdirSync(out, { recursive: true });

const persist = freshState("profile-state");
const mail = await startMailCapture();
// Seeded by a development worker, which also counts each row's round trips; profiled as deployed.
const seeder = await startWorker({ persist, mail });
const { newAccount, addUsers, probe } = client(seeder.base);

const one = await newAccount(0);
await addUsers(one, 50);
const many = [];
for (let i = 1; i <= 20; i++) many.push(await newAccount(i));

const only = process.env.PROFILE_ONLY ? new RegExp(process.env.PROFILE_ONLY) : null;
const rows = [
  { name: "bare", title: "GET /health/live", make: () => get("/health/live") },
  { name: "health", title: "GET /health", make: () => get("/health") },
  { name: "me", title: "GET /v1/me", make: () => get("/v1/me", one.token) },
  {
    name: "users",
    title: "GET /v1/users?limit=50 (51 members)",
    make: () => get("/v1/users?limit=50", one.token),
  },
  {
    name: "invite-one",
    title: "POST /v1/invitations, 1 account",
    make: (i) => post("/v1/invitations", one.token, { email: `p1-${i}-${Date.now()}@b.example` }),
  },
  {
    name: "invite-many",
    title: "POST /v1/invitations, 20 accounts",
    make: (i) =>
      post("/v1/invitations", many[i % 20].token, { email: `p20-${i}-${Date.now()}@b.example` }),
  },
].filter((row) => !only || only.test(row.name));
const probes = [];
for (const row of rows) probes.push(await probe(row.make(0)));
await seeder.worker.dispose();
const { worker, base } = await startWorker({ persist, mail, inspector: true, production: true });

/** A DevTools protocol session on the worker's isolate. */
async function devtools() {
  const inspector = await worker.inspectorUrl;
  const targets = await (
    await fetch(`http://${inspector.host}/json`, { headers: { accept: "application/json" } })
  ).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map();
  const scripts = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
    } else if (msg.method === "Debugger.scriptParsed") {
      scripts.set(msg.params.scriptId, msg.params.url);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      pending.set(n, { resolve, reject });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  return { send, scripts, close: () => ws.close() };
}

const session = await devtools();
await session.send("Debugger.enable");
await session.send("Profiler.enable");
await session.send("Profiler.setSamplingInterval", { interval: 200 });

/**
 * A bundle path as a repository path: node_modules may be reached through a symlink (esbuild
 * prints the real path), so everything before `node_modules/` or `src/` is dropped.
 */
function moduleName(file) {
  const at = file.indexOf("node_modules/");
  if (at >= 0) return file.slice(at);
  return file.replace(/^(\.\.\/)+/, "").replace(/^.*?(?=src\/)/, "");
}

/** Line → module of each bundled script, from esbuild's `// path` markers. */
const moduleMaps = new Map();
async function moduleAt(scriptId, line) {
  if (!moduleMaps.has(scriptId)) {
    let starts = [];
    try {
      const { scriptSource } = await session.send("Debugger.getScriptSource", { scriptId });
      scriptSource.split("\n").forEach((text, i) => {
        const m = /^\/\/ (\S+\.(?:[cm]?js|tsx?|json))$/.exec(text);
        if (m) starts.push([i, moduleName(m[1])]);
      });
    } catch {
      starts = [];
    }
    moduleMaps.set(scriptId, starts);
  }
  const starts = moduleMaps.get(scriptId);
  let found = null;
  for (const [start, name] of starts) {
    if (start > line) break;
    found = name;
  }
  return found;
}

const GROUPS = [
  [/^node_modules\/jose\//, "JWT verify (jose)"],
  [/^node_modules\/(zod|@hono\/zod-openapi|@asteasolutions)\//, "zod / OpenAPI validation"],
  [/^node_modules\/hono\//, "hono router and middleware"],
  [/^node_modules\/drizzle-orm\//, "drizzle (query build, row mapping)"],
  [/^node_modules\/(typeid-js|uuidv7|uuid)\//, "id generation"],
  [/^node_modules\/(postmark|axios|form-data)\//, "mail client"],
  [/^node_modules\//, "other libraries"],
  [/^src\/auth\//, "our auth (principal, grants parsing)"],
  [
    /^src\/(http|app\.ts|index\.ts|config\.ts|context\.ts)/,
    "our request path (middleware, config)",
  ],
  [/^src\/db\//, "our D1 plumbing (batch, commit, round-trip counter)"],
  [/^src\/capacity\//, "account object (Durable Object)"],
  [/^src\/(mail|activity|stream|webhooks)\//, "events, mail, webhooks"],
  [/^src\//, "handlers and domain code"],
];

async function categoryOf(node) {
  const { functionName, scriptId, url, lineNumber } = node.callFrame;
  if (functionName === "(idle)") return null;
  if (functionName === "(garbage collector)") return "garbage collection";
  if (functionName === "(program)" || functionName === "(root)") return "runtime (native)";
  if (!url) return "runtime (native)";
  const mod = await moduleAt(scriptId, lineNumber);
  if (!mod) return `runtime (${path.basename(url)})`;
  for (const [pattern, name] of GROUPS) if (pattern.test(mod)) return name;
  return mod;
}

async function summarize(profile, requests) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byCategory = new Map();
  const byFunction = new Map();
  let busy = 0;
  for (const [id, micros] of dt) {
    const node = byNode.get(id);
    const category = await categoryOf(node);
    if (!category) continue;
    busy += micros;
    byCategory.set(category, (byCategory.get(category) ?? 0) + micros);
    const fn = `${node.callFrame.functionName || "(anonymous)"} [${category}]`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros);
  }
  const perRequest = (micros) => (micros / 1000 / Math.max(requests, 1)).toFixed(3);
  const table = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .map(([name, micros]) => ({
        name,
        "share %": ((micros / busy) * 100).toFixed(1),
        "CPU ms/req": perRequest(micros),
      }));
  return {
    busyMsPerRequest: Number(perRequest(busy)),
    categories: table(byCategory),
    topFunctions: table(byFunction).slice(0, 15),
  };
}

const report = [];
for (const [i, row] of rows.entries()) {
  const probe = probes[i];
  await session.send("Profiler.start");
  const result = await load(base, row.make, { seconds, connections });
  const { profile } = await session.send("Profiler.stop");
  writeFileSync(path.join(out, `${row.name}.cpuprofile`), JSON.stringify(profile));
  const summary = await summarize(profile, result.requests.total);
  report.push({
    row: row.title,
    requests: result.requests.total,
    "non-2xx": result.non2xx,
    "D1 round trips": probe.roundTrips,
    ...summary,
  });
  console.log(
    "\n%s: %d requests, %d non-2xx, %d D1 round trips, %s ms of worker CPU per request",
    row.title,
    result.requests.total,
    result.non2xx,
    probe.roundTrips,
    summary.busyMsPerRequest,
  );
  console.table(summary.categories);
  console.table(summary.topFunctions);
}
writeFileSync(path.join(out, "summary.json"), JSON.stringify(report, null, 2));
console.log("mail captured: %d accepted", mail.received.accepted);
session.close();
await worker.dispose();
await mail.close();

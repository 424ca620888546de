#!/usr/bin/env node
// `npm run bench`: load-tests a local worker started with wrangler's unstable_startWorker
// (inspector off: the DevTools inspector adds ~3 ms of Node CPU per D1 query and would
// swamp what we measure). Reports requests/s, p50, p99, non-2xx, the ratio to a bare
// route on the same worker, and D1 round trips per request (the figure that carries to
// production), for one account and for 20 accounts at once.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { unstable_startWorker } from "wrangler";

const root = path.resolve(import.meta.dirname, "..");
const persist = path.join(root, ".bench", "state");
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const PLATFORM = "dev-platform-token";
const PASSWORD = "bench password that is long enough";
process.env.WRANGLER_SEND_METRICS = "false";

rmSync(persist, { recursive: true, force: true });
mkdirSync(persist, { recursive: true });
const migrate = spawnSync(path.join(root, "node_modules/.bin/wrangler"), ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], { cwd: root, encoding: "utf8" });
if (migrate.status !== 0) throw new Error(migrate.stderr);

const worker = await unstable_startWorker({
  config: path.join(root, "wrangler.toml"),
  // The programmatic API does not derive this from compatibility_flags as `wrangler dev` does.
  build: { nodejsCompatMode: (config) => (config.compatibility_flags.includes("nodejs_compat") ? "v2" : null) },
  dev: { inspector: false, persist, watch: false, server: { hostname: "127.0.0.1", port: 0 }, logLevel: "warn" },
});
await worker.ready;
const base = (await worker.url).toString().replace(/\/$/, "");

async function api(method, route, { token, body } = {}) {
  const res = await fetch(base + route, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, roundTrips: Number(res.headers.get("x-d1-round-trips")) };
}

let seq = 0;
async function newAccount(i) {
  const email = `bench-admin-${i}-${Date.now()}@example.com`;
  const created = await api("POST", "/v1/platform/accounts", { token: PLATFORM, body: { name: `Bench ${i}`, plan: "enterprise", admin_email: email, admin_password: PASSWORD } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const login = await api("POST", "/v1/auth/login", { body: { email, password: PASSWORD } });
  return { email, token: login.body.access_token };
}

/** One autocannon run; `make(i)` builds the i-th request, so runs can rotate accounts or bodies. */
function run(title, make) {
  return new Promise((resolve, reject) => {
    let i = 0;
    const first = make(0);
    const instance = autocannon(
      {
        url: base,
        connections,
        duration: seconds,
        requests: [{ ...first, setupRequest: (req) => ({ ...req, ...make(i++) }) }],
      },
      (err, result) => (err ? reject(err) : resolve({ title, result })),
    );
    autocannon.track(instance, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false });
  });
}

const get = (route, token) => ({ method: "GET", path: route, headers: token ? { authorization: `Bearer ${token}` } : {} });
const post = (route, token, body) => ({ method: "POST", path: route, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });

const one = await newAccount(0);
// Seeding runs one request at a time: each hashes a password, and scrypt's 16 MiB per
// hash is what a Worker's memory is sized for, not dozens at once in one process.
const many = [];
for (let i = 1; i <= 20; i++) many.push(await newAccount(i));
for (let i = 0; i < 60; i++) {
  await api("POST", "/v1/users", { token: one.token, body: { email: `u${i}@bench.example`, first_name: "U", last_name: String(i), password: PASSWORD } });
}

const scenarios = [
  { name: "bare route (GET /health/live)", make: () => get("/health/live"), probe: () => api("GET", "/health/live") },
  { name: "GET /v1/me, 1 account", make: () => get("/v1/me", one.token), probe: () => api("GET", "/v1/me", { token: one.token }) },
  { name: "GET /v1/me, 20 accounts", make: (i) => get("/v1/me", many[i % 20].token), probe: () => api("GET", "/v1/me", { token: many[0].token }) },
  { name: "GET /v1/users (page of 50), 1 account", make: () => get("/v1/users", one.token), probe: () => api("GET", "/v1/users", { token: one.token }) },
  { name: "POST /v1/invitations, 1 account", make: () => post("/v1/invitations", one.token, { email: `inv-${++seq}@bench.example` }), probe: () => api("POST", "/v1/invitations", { token: one.token, body: { email: `probe-${++seq}@bench.example` } }) },
  { name: "POST /v1/invitations, 20 accounts", make: (i) => post("/v1/invitations", many[i % 20].token, { email: `inv-${++seq}@bench.example` }), probe: () => api("POST", "/v1/invitations", { token: many[0].token, body: { email: `probe-${++seq}@bench.example` } }) },
  { name: "POST /v1/groups (write batch), 20 accounts", make: (i) => post("/v1/groups", many[i % 20].token, { name: `g-${++seq}`, grants: [{ permission: "users:read" }] }), probe: () => api("POST", "/v1/groups", { token: one.token, body: { name: `probe-${++seq}`, grants: [] } }) },
];

const rows = [];
let bare = 0;
for (const s of scenarios) {
  const { roundTrips, status } = await s.probe();
  const { result } = await run(s.name, s.make);
  const rps = result.requests.average;
  if (rows.length === 0) bare = rps;
  rows.push({
    endpoint: s.name,
    "req/s": Math.round(rps),
    "p50 ms": result.latency.p50,
    "p99 ms": result.latency.p99,
    "non-2xx": result.non2xx,
    "vs bare": rows.length === 0 ? "1.00" : (rps / bare).toFixed(2),
    "D1 round trips": roundTrips,
    "probe status": status,
  });
}
console.table(rows);
mkdirSync(path.join(root, ".bench"), { recursive: true });
writeFileSync(path.join(root, ".bench", "results.json"), JSON.stringify({ at: new Date().toISOString(), seconds, connections, rows }, null, 2));
await worker.dispose();

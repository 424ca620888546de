#!/usr/bin/env node
// `npm run bench`: load-tests a local worker started with wrangler's unstable_startWorker
// (inspector off: the DevTools inspector adds ~3 ms of Node CPU per D1 query and would
// swamp what we measure). Reports requests/s, p50, p99, non-2xx, the ratio to a bare
// route on the same worker, and D1 round trips per request (the figure that carries to
// production), for one account and for 20 accounts at once, with the worker's mail going to a
// local Postmark-compatible capture server (so invitations are mailed as in production). The
// worker under load runs as deployed (ENVIRONMENT=production, strong secrets, https links);
// a development worker on the same state seeds it and counts the round trips, which only
// development answers report. Then: activity events written
// per second under concurrent logins, and the export of 100,000 events (time, and the peak
// memory of the workerd processes while it streams).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  client,
  freshState,
  get,
  load,
  PASSWORD,
  post,
  root,
  startMailCapture,
  startWorkerProcess,
  workerdPids,
  wrangler,
} from "./bench-kit.mjs";

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
// BENCH_ONLY=<regex>: only the matching rows, and neither the login nor the export figures
// (for comparing two builds quickly).
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
const persist = freshState("state");
// Every invitation is mailed over HTTP through the real postmark client, as in production.
const mail = await startMailCapture();

let { worker, base } = await startWorkerProcess({ persist, mail });
let { api, newAccount, benchAccount } = client(base);

let seq = 0;
/** One autocannon run; `make(i)` builds the i-th request, so runs can rotate accounts or bodies. */
// Each row is measured after a warm-up of its own, as the peer's harness does: the first
// requests of a route compile it, and a fresh isolate has not optimized anything yet.
const warmup = Number(process.env.BENCH_WARMUP_S ?? 2);
const run = async (title, make) => {
  if (warmup > 0) await load(base, make, { seconds: warmup, connections });
  return { title, result: await load(base, make, { seconds, connections }) };
};

// Seeding runs one request at a time: each hashes a password, and scrypt's 16 MiB per
// hash is what a Worker's memory is sized for, not dozens at once in one process.
const one = await benchAccount();
const many = [];
for (let i = 1; i <= 20; i++) many.push(await newAccount(i));

const scenarios = [
  {
    name: "bare route (GET /health/live)",
    make: () => get("/health/live"),
    probe: () => api("GET", "/health/live"),
  },
  {
    name: "floor: GET /health (one D1 query)",
    make: () => get("/health"),
    probe: () => api("GET", "/health"),
  },
  {
    name: "GET /v1/me, 1 account",
    make: () => get("/v1/me", one.token),
    probe: () => api("GET", "/v1/me", { token: one.token }),
  },
  {
    name: "GET /v1/me, 20 accounts",
    make: (i) => get("/v1/me", many[i % 20].token),
    probe: () => api("GET", "/v1/me", { token: many[0].token }),
  },
  {
    name: "GET /v1/users?limit=50 (51 members), 1 account",
    make: () => get("/v1/users?limit=50", one.token),
    probe: () => api("GET", "/v1/users?limit=50", { token: one.token }),
  },
  {
    name: "POST /v1/invitations, 1 account",
    make: () => post("/v1/invitations", one.token, { email: `inv-${++seq}@bench.example` }),
    probe: () =>
      api("POST", "/v1/invitations", {
        token: one.token,
        body: { email: `probe-${++seq}@bench.example` },
      }),
  },
  {
    name: "POST /v1/invitations, 20 accounts",
    make: (i) =>
      post("/v1/invitations", many[i % 20].token, { email: `inv-${++seq}@bench.example` }),
    probe: () =>
      api("POST", "/v1/invitations", {
        token: many[0].token,
        body: { email: `probe-${++seq}@bench.example` },
      }),
  },
  {
    name: "POST /v1/groups (write batch), 20 accounts",
    make: (i) =>
      post("/v1/groups", many[i % 20].token, {
        name: `g-${++seq}`,
        grants: [{ permission: "users:read" }],
      }),
    probe: () =>
      api("POST", "/v1/groups", { token: one.token, body: { name: `probe-${++seq}`, grants: [] } }),
  },
];

const selected = scenarios.filter((row) => !only || only.test(row.name));
// Round trips are counted by the development worker (the count is a development header);
// the load then runs against the worker as deployed, on the same state and tokens.
const probes = [];
for (const s of selected) probes.push(await s.probe());
const LOGIN_USERS = 20;
const loginBody = (i) =>
  JSON.stringify({ email: `u${i % LOGIN_USERS}@bench.example`, password: PASSWORD });
const loginProbe = await api("POST", "/v1/auth/login", { body: JSON.parse(loginBody(0)) });
await worker.dispose();
({ worker, base } = await startWorkerProcess({ persist, mail, production: true }));
({ api, newAccount } = client(base));

const rows = [];
let bare = 0;
for (const [i, s] of selected.entries()) {
  const { roundTrips, status } = probes[i];
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
console.log(
  "mail captured: %d accepted, %d rejected",
  mail.received.accepted,
  mail.received.rejected,
);
if (only) {
  await worker.dispose();
  await mail.close();
  process.exit(0);
}

// Events written per second under concurrent logins: each successful login writes one
// auth.login.succeeded row in its own batch. The rows are read back through the API before
// and after (after the requests still in flight when autocannon stops have finished), and
// the rate is taken from their own occurred_at.
async function loginEvents(token) {
  const found = new Map();
  let cursor = null;
  do {
    const page = await api(
      "GET",
      `/v1/activity?type=auth.login.succeeded&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      { token },
    );
    if (page.status !== 200) throw new Error(JSON.stringify(page.body));
    for (const e of page.body.data) found.set(e.id, Date.parse(e.occurred_at));
    cursor = page.body.next_cursor;
  } while (cursor);
  return found;
}
const loginsBefore = await loginEvents(one.token);
const loginStart = Date.now();
const { result: loginRun } = await run("POST /v1/auth/login", (i) => ({
  method: "POST",
  path: "/v1/auth/login",
  headers: { "content-type": "application/json" },
  body: loginBody(i),
}));
let loginsAfter = await loginEvents(one.token);
for (let settle = 0; settle < 20; settle++) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const again = await loginEvents(one.token);
  if (again.size === loginsAfter.size) break;
  loginsAfter = again;
}
const newLogins = [...loginsAfter].filter(([id]) => !loginsBefore.has(id)).map(([, at]) => at);
const lastWrite = Math.max(loginStart, ...newLogins);
const logins = {
  scenario: `POST /v1/auth/login, ${LOGIN_USERS} users of 1 account`,
  "logins (2xx)": loginRun["2xx"],
  "logins/s": Math.round(loginRun["2xx"] / loginRun.duration),
  "p50 ms": loginRun.latency.p50,
  "p99 ms": loginRun.latency.p99,
  "non-2xx": loginRun.non2xx,
  "auth.login.succeeded rows written": newLogins.length,
  "of which in flight at stop": newLogins.length - loginRun["2xx"],
  "events written/s": Math.round(newLogins.length / ((lastWrite - loginStart) / 1000)),
  "D1 round trips": loginProbe.roundTrips,
  "probe status": loginProbe.status,
};
console.log(
  "\nEvents written under concurrent logins (%d connections, %s s)",
  connections,
  loginRun.duration,
);
console.table([logins]);

// The export of 100,000 events. The rows go straight into the bench's local D1 while the
// worker is stopped (a recursive CTE in one statement), then the worker starts again on the
// same state and the export is streamed from Node, while the resident memory of the workerd
// process(es) this script started is sampled every 100 ms from /proc.
const EXPORT_EVENTS = 100_000;
const exporter = await newAccount("export");
await worker.dispose();
const newest = Date.now() - 60_000;
const seedFile = path.join(root, ".bench", "seed-activity.sql");
writeFileSync(
  seedFile,
  `INSERT INTO activity_events
  (id, account_id, type, occurred_at, actor_type, actor_id, subject_type, subject_id, method, ip, user_agent, metadata, streamed_at)
WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < ${EXPORT_EVENTS - 1})
SELECT 'evt_' || lower(hex(randomblob(13))), '${exporter.accountId}',
  CASE n % 5 WHEN 0 THEN 'auth.login.succeeded' WHEN 1 THEN 'user.updated' WHEN 2 THEN 'group.updated' WHEN 3 THEN 'auth.login.failed' ELSE 'device.added' END,
  ${newest} - n * 1000, 'user', 'usr_bench' || (n % 50), 'user', 'usr_bench' || (n % 500), 'password', '203.0.113.' || (n % 250),
  'Mozilla/5.0 (X11; Linux x86_64) bench, "quoted"', json_object('n', n, 'name', 'Smith, "Jr."', 'changes', json_array('first_name', 'last_name')),
  ${newest} - n * 1000
FROM seq;
`,
);
const seedStart = performance.now();
wrangler("d1", "execute", "DB", "--local", "--persist-to", persist, "--file", seedFile);
const seedSeconds = (performance.now() - seedStart) / 1000;
({ worker, base } = await startWorkerProcess({ persist, mail, production: true }));
({ api, newAccount } = client(base));

const kib = (pid, field) => {
  try {
    return Number(
      new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ??
        0,
    );
  } catch {
    return 0;
  }
};
const mib = (k) => Math.round(k / 1024);
const pids = workerdPids();
const rssNow = () => pids.reduce((sum, pid) => sum + kib(pid, "VmRSS"), 0);

/** Samples total workerd RSS every 100 ms while `work` runs. */
async function sampled(work) {
  let peak = rssNow();
  const timer = setInterval(() => (peak = Math.max(peak, rssNow())), 100);
  try {
    return { value: await work(), peak };
  } finally {
    clearInterval(timer);
    peak = Math.max(peak, rssNow());
  }
}

async function settledRss() {
  const samples = [];
  for (let i = 0; i < 10; i++) {
    samples.push(rssNow());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Math.max(...samples);
}

async function streamExport(query) {
  const started = performance.now();
  const res = await fetch(`${base}/v1/activity/export?${query}`, {
    headers: { authorization: `Bearer ${exporter.token}` },
  });
  if (res.status !== 200) throw new Error(`export ${query}: ${res.status} ${await res.text()}`);
  let firstByte = null;
  let bytes = 0;
  let lines = 0;
  let head = "";
  for await (const chunk of res.body) {
    firstByte ??= performance.now() - started;
    bytes += chunk.length;
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    if (head.length < 2000)
      head += Buffer.from(chunk.subarray(0, 2000 - head.length)).toString("utf8");
  }
  return { seconds: (performance.now() - started) / 1000, firstByte, bytes, lines, head };
}

const exportRuns = [
  {
    name: "ndjson, newest 10,000",
    query: `format=ndjson&since=${new Date(newest - 9_999 * 1000).toISOString()}`,
    rows: 10_000,
  },
  { name: "ndjson, all", query: "format=ndjson", rows: null },
  { name: "csv, all", query: "format=csv", rows: null },
];
const exportRows = [];
let exportError = null;
let idle = 0;
try {
  if (pids.length === 0) throw new Error("no workerd process found under this script");
  idle = await settledRss();
  for (const e of exportRuns) {
    const before = await settledRss();
    const { value: out, peak } = await sampled(() => streamExport(e.query));
    const csv = e.query.startsWith("format=csv");
    const events = csv ? out.lines - 1 : out.lines;
    if (events < (e.rows ?? EXPORT_EVENTS))
      throw new Error(
        `${e.name}: ${events} events exported, expected at least ${e.rows ?? EXPORT_EVENTS}`,
      );
    if (!csv) JSON.parse(out.head.split("\n")[0]);
    exportRows.push({
      export: e.name,
      lines: out.lines,
      MB: (out.bytes / 1e6).toFixed(1),
      "time s": out.seconds.toFixed(2),
      "first byte ms": Math.round(out.firstByte),
      "rows/s": Math.round(events / out.seconds),
      "RSS before MiB": mib(before),
      "peak RSS MiB": mib(peak),
      "peak - before MiB": mib(peak - before),
    });
  }
} catch (err) {
  exportError = String(err);
}
const workerd = pids.map((pid) => ({
  pid,
  "VmRSS MiB": mib(kib(pid, "VmRSS")),
  "VmHWM MiB (peak since start)": mib(kib(pid, "VmHWM")),
}));
console.log(
  "\nExport of %s seeded events (+ the account's own), streamed from Node; workerd RSS sampled every 100 ms (%d processes; seeding took %s s)",
  EXPORT_EVENTS.toLocaleString("en"),
  pids.length,
  seedSeconds.toFixed(1),
);
if (exportError) console.error("export failed:", exportError);
console.table(exportRows);
console.table(workerd);

mkdirSync(path.join(root, ".bench"), { recursive: true });
writeFileSync(
  path.join(root, ".bench", "results.json"),
  JSON.stringify(
    {
      at: new Date().toISOString(),
      seconds,
      connections,
      rows,
      mail: mail.received,
      logins: { ...logins, seconds: loginRun.duration, connections },
      export: {
        seeded_events: EXPORT_EVENTS,
        seed_seconds: Number(seedSeconds.toFixed(2)),
        idle_rss_mib: mib(idle),
        rows: exportRows,
        workerd,
        error: exportError,
      },
    },
    null,
    2,
  ),
);
await worker.dispose();
await mail.close();
if (exportError) process.exitCode = 1;

#!/usr/bin/env node
// `npm run bench:peer`: this service and the peer (Better Auth's benchmark harness, whose
// folder PEER_DIR names, installed) side by side in one run, interleaved. Both workers run at
// once on local workerd, inspector off, seeded over HTTP as each harness seeds its own; then
// each row is measured in rounds, ours and the peer's one after the other (who goes first
// alternates), so a change in the machine's speed touches both sides of a round alike. The
// table gives each side's median requests/s and the median and lowest of the per-round
// ratios. Both sides mail every invitation to a local Postmark-compatible capture server:
// the peer inside the request, ours from its queue; after each of our invitation runs, the
// next run waits until our mail has drained, so that work never lands in the peer's run.
//
// BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_WARMUP_S (2), BENCH_CONNECTIONS (10),
// BENCH_ONLY=<regex> (rows by name). Writes .bench/peer-results.json.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  client,
  freshState,
  get,
  load,
  post,
  root,
  startMailCapture,
  startWorkerProcess,
} from "./bench-kit.mjs";

const PEER_DIR = process.env.PEER_DIR && path.resolve(process.env.PEER_DIR);
if (!PEER_DIR) {
  console.error("Set PEER_DIR to the peer's benchmark folder (npm install done there).");
  process.exit(2);
}
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const warmup = Number(process.env.BENCH_WARMUP_S ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
const log = (...args) => console.error("[bench:peer]", ...args);

// ---- ours: seeded (and its round trips counted) by a development worker, measured as deployed
const mail = await startMailCapture();
const persist = freshState("peer-ours");
let ours = await startWorkerProcess({ persist, mail });
const { benchAccount, probe } = client(ours.base);
const one = await benchAccount();
let seq = 0;
const invite = () => post("/v1/invitations", one.token, { email: `inv-${++seq}@bench.example` });
const roundTrips = {};
for (const [name, request] of [
  ["floor", get("/health")],
  ["me", get("/v1/me", one.token)],
  ["users", get("/v1/users?limit=50", one.token)],
  ["invitations", invite()],
]) {
  const probed = await probe(request);
  if (probed.status >= 300) throw new Error(`${name} probe: ${JSON.stringify(probed.body)}`);
  roundTrips[name] = probed.roundTrips;
}
await ours.worker.dispose();
ours = await startWorkerProcess({ persist, mail, production: true });

// ---- the peer, started and seeded as its own harness does
const peerMail = await startMailCapture("bench");
const peerPersist = mkdtempSync(path.join(tmpdir(), "peer-d1-"));
const peerWrangler = path.join(PEER_DIR, "node_modules/.bin/wrangler");
await run(peerWrangler, [
  "d1",
  "migrations",
  "apply",
  "DB",
  "--local",
  "--persist-to",
  peerPersist,
]);
const peerPort = await freePort();
const peerProcess = spawn(
  process.execPath,
  [
    path.join(PEER_DIR, "scripts/serve-no-inspector.mjs"),
    String(peerPort),
    peerPersist,
    peerMail.url,
  ],
  { cwd: PEER_DIR, stdio: ["ignore", "pipe", "inherit"], detached: true },
);
const peerBase = `http://127.0.0.1:${peerPort}`;
await new Promise((resolve, reject) => {
  let out = "";
  peerProcess.stdout.on("data", (chunk) => {
    out += chunk;
    if (out.includes("ready on")) resolve();
  });
  peerProcess.once("exit", (code) => reject(new Error(`the peer exited with ${code}`)));
});
const peer = await seedPeer(peerBase);
let peerSeq = 0;
const peerInvite = () => ({
  method: "POST",
  path: "/api/auth/organization/invite-member",
  headers: { "content-type": "application/json", origin: peerBase, cookie: peer.cookie },
  body: JSON.stringify({
    email: `invitee-${++peerSeq}@example.com`,
    role: "member",
    organizationId: peer.orgId,
  }),
});
const peerGet = (route) => ({ method: "GET", path: route, headers: { cookie: peer.cookie } });

const rows = [
  { name: "bare", ours: () => get("/health/live"), peer: () => peerGet("/hello") },
  { name: "floor", ours: () => get("/health"), peer: () => peerGet("/d1-ping") },
  {
    name: "me",
    ours: () => get("/v1/me", one.token),
    peer: () => peerGet("/api/auth/get-session"),
  },
  {
    name: "users",
    ours: () => get("/v1/users?limit=50", one.token),
    peer: () => peerGet(`/api/auth/organization/list-members?organizationId=${peer.orgId}`),
  },
  { name: "invitations", ours: invite, peer: peerInvite, drain: true },
].filter((row) => !only || only.test(row.name));

// ---- interleaved rounds
const results = Object.fromEntries(
  rows.map((r) => [r.name, { ours: [], peer: [], delivered: [], non2xx: 0 }]),
);
let invited = 1; // the probe's
for (let round = 0; round < rounds; round++) {
  for (const row of rows) {
    const sides = round % 2 === 0 ? ["ours", "peer"] : ["peer", "ours"];
    for (const side of sides) {
      const base = side === "ours" ? ours.base : peerBase;
      const make = row[side];
      const drains = side === "ours" && row.drain;
      if (warmup > 0) {
        const w = await load(base, make, { seconds: warmup, connections });
        if (drains) {
          invited += w["2xx"];
          await drained(invited);
        }
      }
      const measured = await load(base, make, { seconds, connections });
      results[row.name][side].push(measured.requests.average);
      results[row.name].non2xx += measured.non2xx;
      if (drains) {
        // Answered is not done: the run's mail is still leaving. Counting the time until the
        // last of it is delivered gives the rate the machine sustains, mail included.
        invited += measured["2xx"];
        const started = Date.now();
        await drained(invited);
        const spent = seconds + (Date.now() - started) / 1000;
        results[row.name].delivered.push(Math.round(measured["2xx"] / spent));
      }
    }
    const r = results[row.name];
    const delivered = r.delivered.length
      ? ` (${r.delivered.at(-1)}/s with its mail delivered)`
      : "";
    log(`round ${round + 1} ${row.name}: ours ${r.ours.at(-1)}${delivered}, peer ${r.peer.at(-1)}`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const table = rows.flatMap(({ name }) => {
  const r = results[name];
  const line = (row, ours) => {
    const ratios = ours.map((o, i) => o / r.peer[i]);
    return {
      row,
      "ours req/s": Math.round(median(ours)),
      "peer req/s": Math.round(median(r.peer)),
      "median ratio": median(ratios).toFixed(2),
      "lowest ratio": Math.min(...ratios).toFixed(2),
      "per round": ratios.map((x) => x.toFixed(2)).join(" "),
      "non-2xx": r.non2xx,
      "ours D1 round trips": roundTrips[name] ?? 0,
    };
  };
  // Ours again, counting each run until its last mail was delivered: the peer mails inside
  // the request, so this is the like-for-like rate of the whole job.
  return r.delivered.length
    ? [line(name, r.ours), line(`${name}, mail delivered`, r.delivered)]
    : [line(name, r.ours)];
});
console.table(table);
console.log(
  "mail: ours %d accepted (%d rejected), peer %d",
  mail.received.accepted,
  mail.received.rejected,
  peerMail.received.accepted + peerMail.received.rejected,
);
writeFileSync(
  path.join(root, ".bench", "peer-results.json"),
  JSON.stringify({ rounds, seconds, warmup, connections, results, table }, null, 2),
);

await ours.worker.dispose();
process.kill(-peerProcess.pid, "SIGTERM");
await new Promise((resolve) => peerProcess.once("exit", resolve));
rmSync(peerPersist, { recursive: true, force: true });
await mail.close();
await peerMail.close();

// ---- helpers

/** Waits until our capture server has every invitation's mail (the queue drains after a run). */
async function drained(expected) {
  const deadline = Date.now() + 300_000;
  while (mail.received.accepted < expected) {
    if (Date.now() > deadline) {
      throw new Error(`mail did not drain: ${mail.received.accepted} of ${expected}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PEER_DIR, stdio: ["ignore", "ignore", "inherit"] });
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")}: ${code}`)),
    );
  });
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The peer's seed: an owner, an organization, and 50 members who signed up, were invited and accepted. */
async function seedPeer(base) {
  const PASSWORD = "bench-password-123";
  const call = async (method, route, { body, cookie } = {}) => {
    const headers = { origin: base };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (cookie) headers.cookie = cookie;
    const res = await fetch(base + route, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route} -> ${res.status} ${text.slice(0, 300)}`);
    return { res, json: text ? JSON.parse(text) : null };
  };
  const cookieOf = (res) =>
    res.headers
      .getSetCookie()
      .find((c) => c.startsWith("better-auth.session_token="))
      .split(";")[0];
  const up = await call("POST", "/api/auth/sign-up/email", {
    body: { email: "owner@example.com", password: PASSWORD, name: "Bench Owner" },
  });
  const cookie = cookieOf(up.res);
  const org = (
    await call("POST", "/api/auth/organization/create", {
      cookie,
      body: { name: "Bench Org", slug: "bench-org" },
    })
  ).json;
  for (let i = 1; i <= 50; i++) {
    const email = `member${i}@example.com`;
    const su = await call("POST", "/api/auth/sign-up/email", {
      body: { email, password: PASSWORD, name: `Member ${i}` },
    });
    const inv = await call("POST", "/api/auth/organization/invite-member", {
      cookie,
      body: { email, role: "member", organizationId: org.id },
    });
    await call("POST", "/api/auth/organization/accept-invitation", {
      cookie: cookieOf(su.res),
      body: { invitationId: inv.json.id },
    });
  }
  const listed = await call("GET", `/api/auth/organization/list-members?organizationId=${org.id}`, {
    cookie,
  });
  if (listed.json.total !== 51) throw new Error(`the peer lists ${listed.json.total} members`);
  return { cookie, orgId: org.id };
}

// `npm run bench:cpu`: CPU time per request of each workerd process, read from /proc around
// a load run (Linux only). Requests per second tell what the whole machine managed, load
// generator and kernel included; this tells where a request's CPU went: wrangler's local
// proxy worker (the first process) and the worker with its D1, KV and queues (the second).
//
// BENCH_ONLY=<regex> (rows by name), BENCH_ROUNDS (3), BENCH_SECONDS (4).
import { readFileSync } from "node:fs";
import {
  client,
  freshState,
  get,
  load,
  startMailCapture,
  startWorkerProcess,
  workerdPids,
} from "./bench-kit.mjs";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;

/** User plus system CPU of a process, in milliseconds (the kernel counts 100 ticks a second). */
const cpuMs = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
};

const mail = await startMailCapture();
const persist = freshState("cpu");
let ours = await startWorkerProcess({ persist, mail });
const one = await client(ours.base).benchAccount();
await ours.worker.dispose();
ours = await startWorkerProcess({ persist, mail, production: true });

const rows = {
  bare: () => get("/health/live"),
  floor: () => get("/health"),
  me: () => get("/v1/me", one.token),
  users: () => get("/v1/users?limit=50", one.token),
};
const results = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, make] of Object.entries(rows)) {
    if (only && !only.test(name)) continue;
    await load(ours.base, make, { seconds: 1, connections: 10 });
    // Listed after a first run: the worker's own process starts with its first request. In
    // start order (the proxy first), as the figures are labelled.
    const pids = workerdPids().sort((a, b) => a - b);
    const start = pids.map(cpuMs);
    const run = await load(ours.base, make, { seconds, connections: 10 });
    const spent = pids.map((p, i) => ((cpuMs(p) - start[i]) * 1000) / run.requests.total);
    results[name] = [
      ...(results[name] ?? []),
      `${spent.map(Math.round).join(" + ")} µs at ${Math.round(run.requests.average)}/s`,
    ];
  }
}
console.log("CPU per request, by workerd process (proxy + worker), each round:");
for (const [name, list] of Object.entries(results)) console.log(name.padEnd(6), list.join("  |  "));
await ours.worker.dispose();
await mail.close();

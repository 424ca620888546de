#!/usr/bin/env node
// The benchmark's worker in a process of its own, so wrangler's Node side does not share an
// event loop with the load generator (the peer's harness runs its worker the same way).
// Reads {persist, mail} as JSON from argv, prints `ready <url>`, and stops on SIGTERM.
import { startWorker } from "./bench-kit.mjs";

const options = JSON.parse(process.argv[2] ?? "{}");
const { worker, base } = await startWorker(options);
console.log(`ready ${base}`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await worker.dispose().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setInterval(() => {}, 60_000);

#!/usr/bin/env node
// `npm run dev`: the console rebuilt on every change (vite build --watch) alongside
// `wrangler dev`, which serves the API and the rebuilt console. Ctrl-C stops both.
import { spawn } from "node:child_process";
import path from "node:path";
import { buildConsole } from "./console-build.mjs";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

// wrangler needs the folder before it starts; the watcher keeps it current afterwards.
buildConsole();
const children = [
  spawn(bin("vite"), ["build", "--watch", "--config", "src/console/vite.config.ts"], {
    cwd: root,
    env,
    stdio: "inherit",
  }),
  spawn(bin("wrangler"), ["dev", "--ip", "127.0.0.1", ...process.argv.slice(2)], {
    cwd: root,
    env,
    stdio: "inherit",
  }),
];
const stop = (signal) => {
  for (const child of children) if (child.exitCode === null) child.kill(signal);
};
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => stop(signal));
for (const child of children)
  child.on("exit", (code) => {
    stop("SIGTERM");
    process.exitCode = code ?? 0;
  });

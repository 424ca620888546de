/**
 * End-to-end suite: runs in Node (not workerd) against real local workers started with
 * wrangler's `unstable_startWorker`, with real peers (see test/e2e/harness.ts). Files run one
 * after another: each starts its own worker(s) and peers.
 */
import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "../..");

export default defineConfig({
  test: {
    root,
    environment: "node",
    include: ["test/e2e/**/*.test.ts"],
    globalSetup: [path.join(root, "test/e2e/console-setup.ts")],
    fileParallelism: false,
    // Starting a worker bundles it and boots workerd; requests hash passwords with scrypt.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});

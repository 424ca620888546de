// The console's build folder (wrangler.toml `[assets] directory`), for the scripts and test
// setups that start the worker.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
export const consoleDir = path.join(root, "dist", "console");

/**
 * wrangler refuses to start when the assets folder is missing. The API alone does not need
 * the console, so an empty folder lets it start from a clean clone without a build.
 */
export function ensureConsoleDir() {
  mkdirSync(consoleDir, { recursive: true });
}

export const consoleBuilt = () => existsSync(path.join(consoleDir, "index.html"));

/** `npm run build`, in this process's terminal; throws when it fails. */
export function buildConsole() {
  const vite = path.join(root, "node_modules", ".bin", "vite");
  const built = spawnSync(vite, ["build", "--config", "src/console/vite.config.ts"], {
    cwd: root,
    stdio: "inherit",
  });
  if (built.status !== 0) throw new Error(`the console build failed (${built.status})`);
}

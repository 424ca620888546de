/**
 * The console's build: a static single-page app in dist/console, served by the worker's
 * static assets (wrangler.toml `[assets]`). JSX renders with hono's own DOM runtime, so the
 * console needs nothing the service does not already depend on.
 */
import path from "node:path";
import { defineConfig } from "vite";

const root = import.meta.dirname;

export default defineConfig({
  root,
  base: "/",
  publicDir: path.join(root, "public"),
  oxc: { jsx: { runtime: "automatic", importSource: "hono/jsx/dom" } },
  build: {
    outDir: path.join(root, "../../dist/console"),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
  },
  logLevel: "warn",
});

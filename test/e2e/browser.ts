/**
 * Headless Chromium for end-to-end page tests: Debian's `chromium` package (installed by
 * `.ci/run`), driven by `playwright-core` (which never downloads a browser of its own).
 *
 * The flags keep Chromium off the network except for what a page asks for: this machine's
 * network is closed, and without them Chromium keeps trying to reach Google's services.
 * Each launch gets a fresh, empty profile: playwright-core makes a new temporary
 * `--user-data-dir` for every `chromium.launch()` (it refuses one in `args`; that is what
 * `launchPersistentContext` is for) and removes it when the browser closes.
 */
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or null when they can. */
export function browserUnavailable(): string | null {
  return existsSync(CHROMIUM_PATH)
    ? null
    : `${CHROMIUM_PATH} is missing: install Debian's chromium package (apt-get install -y chromium; .ci/run does so in CI) to run the browser tests`;
}

export interface LaunchedBrowser {
  browser: Browser;
  /** A new isolated context (own cookies and storage) with bounded default timeouts. */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

const FLAGS = [
  "--headless",
  "--no-sandbox", // CI runs as root, where Chromium's sandbox refuses to start.
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchBrowser(): Promise<LaunchedBrowser> {
  const unavailable = browserUnavailable();
  if (unavailable) throw new Error(unavailable);
  const launched = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: FLAGS,
    timeout: 60_000,
  });
  const contexts: BrowserContext[] = [];
  return {
    browser: launched,
    async newContext() {
      const context = await launched.newContext({
        javaScriptEnabled: true,
        locale: "en-GB",
        viewport: { width: 1000, height: 900 },
      });
      // Form posts hash passwords with scrypt in the worker: allow for that, but never wait forever.
      context.setDefaultTimeout(20_000);
      context.setDefaultNavigationTimeout(30_000);
      contexts.push(context);
      return context;
    },
    async close() {
      try {
        await Promise.allSettled(contexts.map((c) => c.close()));
      } finally {
        await launched.close();
      }
    },
  };
}

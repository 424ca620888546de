/**
 * End-to-end harness: a real local worker (wrangler's `unstable_startWorker`, the same
 * engine as `wrangler dev`, inspector off) on a fresh, migrated local D1/KV/DO state, driven
 * over HTTP from Node. Each `startWorker()` gets its own temporary persist directory,
 * removed again by `dispose()`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { unstable_startWorker } from "wrangler";
import { ensureConsoleDir } from "../../scripts/console-build.mjs";
import { readDevVars } from "../../scripts/dev-vars.mjs";

export const root = path.resolve(import.meta.dirname, "../..");
/** The development variables every e2e worker starts with (`.dev.vars.example`). */
const DEV_VARS = readDevVars();
export const PLATFORM_TOKEN = DEV_VARS.PLATFORM_ADMIN_TOKEN!;
/** `EMAIL_FROM` in wrangler.toml. */
export const EMAIL_FROM = "no-reply@example.test";

const run = promisify(execFile);
process.env.WRANGLER_SEND_METRICS = "false";

/** A port that was free a moment ago on 127.0.0.1, for a worker that must know its own URL. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `wrangler d1 migrations apply DB --local --persist-to DIR` with the project's own wrangler. */
export async function applyMigrations(persist: string) {
  const wrangler = path.join(root, "node_modules/.bin/wrangler");
  try {
    await run(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`migrations failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

export interface StartedWorker {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The persist directory (D1, KV, DO state) of this worker. */
  persist: string;
  dispose(): Promise<void>;
}

export interface StartOptions {
  /**
   * Plain-text variables overriding wrangler.toml's `[vars]`. `APP_URL` defaults to the
   * worker's own base URL, so links in mail point at this worker.
   */
  vars?: Record<string, string>;
}

// wrangler reloads the worker when wrangler.toml changes, losing in-memory local queues;
// nothing edits it during a run on purpose, so keep a stray edit from breaking one.
process.env.WRANGLER_CI_DISABLE_CONFIG_WATCHING ??= "true";

export async function startWorker(options: StartOptions = {}): Promise<StartedWorker> {
  // Only the console's browser tests need a build (their global setup makes one).
  ensureConsoleDir();
  const persist = await mkdtemp(path.join(tmpdir(), "um-e2e-"));
  let worker: Awaited<ReturnType<typeof unstable_startWorker>> | undefined;
  try {
    await applyMigrations(persist);
    // The port is chosen up front so APP_URL can name the worker itself.
    const port = await freePort();
    const self = `http://127.0.0.1:${port}`;
    // Cheap password hashing (development only): the suite hashes many passwords.
    const vars = { ...DEV_VARS, APP_URL: self, PASSWORD_HASH_COST: "1024", ...options.vars };
    worker = await unstable_startWorker({
      config: path.join(root, "wrangler.toml"),
      bindings: Object.fromEntries(
        Object.entries(vars).map(([name, value]) => [name, { type: "plain_text" as const, value }]),
      ),
      // `wrangler dev` derives this from the compatibility date and flags; the programmatic
      // API leaves it null unless told, and then bundles `node:*` imports without Node.js
      // compatibility (warning that "node:crypto" was not found), unlike the real thing.
      // nodejs_compat with a compatibility date after 2024-09-23 means "v2".
      build: {
        nodejsCompatMode: (config) =>
          config.compatibility_flags.includes("nodejs_compat") ? "v2" : null,
      },
      dev: {
        inspector: false,
        persist,
        watch: false,
        server: { hostname: "127.0.0.1", port },
        logLevel: "warn",
      },
    });
    await worker.ready;
    const url = (await worker.url).toString().replace(/\/$/, "");
    if (url !== self) throw new Error(`worker listens on ${url}, expected ${self}`);
    const started = worker;
    return {
      url,
      persist,
      async dispose() {
        try {
          await started.dispose();
        } finally {
          await rm(persist, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await worker?.dispose().catch(() => {});
    await rm(persist, { recursive: true, force: true });
    throw err;
  }
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON request to the worker; the body is parsed when the answer is JSON. */
export async function api<T = any>(
  base: string,
  method: string,
  route: string,
  { token, body }: { token?: string; body?: unknown } = {},
): Promise<ApiResponse<T>> {
  const res = await fetch(base + route, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json =
    (res.headers.get("content-type") ?? "").includes("json") && text ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: json as T };
}

/** A new account (platform API) with an administrator created at once, logged in. */
export async function newAccount(
  base: string,
  { name, plan = "business" }: { name: string; plan?: string },
) {
  const email = `admin-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@e2e.example`;
  const password = "an e2e admin passphrase long enough";
  const created = await api(base, "POST", "/v1/platform/accounts", {
    token: PLATFORM_TOKEN,
    body: { name, plan, admin_email: email, admin_password: password },
  });
  if (created.status !== 201)
    throw new Error(`account not created: ${created.status} ${JSON.stringify(created.body)}`);
  const login = await api(base, "POST", "/v1/auth/login", { body: { email, password } });
  if (login.status !== 200)
    throw new Error(`admin login failed: ${login.status} ${JSON.stringify(login.body)}`);
  return {
    account: created.body.account,
    admin: created.body.admin,
    email,
    password,
    token: login.body.access_token as string,
  };
}

/** Polls `read` until `done` holds of its value, for at most `timeoutMs`. */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

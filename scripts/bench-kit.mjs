// What `npm run bench` and `npm run profile` share: a fresh local D1, the worker started with
// wrangler's unstable_startWorker, a Postmark-compatible capture server for its mail, seeding
// over HTTP, and autocannon runs.
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import autocannon from "autocannon";
import { unstable_startWorker } from "wrangler";
import { ensureConsoleDir } from "./console-build.mjs";
import { readDevVars } from "./dev-vars.mjs";

export const root = path.resolve(import.meta.dirname, "..");
export const DEV_VARS = readDevVars();
/**
 * Secrets of one benchmark run, strong enough for production: the worker that seeds and
 * counts round trips runs in development, the one under load as deployed, and both accept
 * the same tokens.
 */
const secret = () => `${randomUUID()}${randomUUID()}`;
const RUN_SECRETS = {
  JWT_SIGNING_KEY: secret(),
  PLATFORM_ADMIN_TOKEN: secret(),
  ENCRYPTION_KEY: secret(),
};
export const PLATFORM = RUN_SECRETS.PLATFORM_ADMIN_TOKEN;
export const PASSWORD = "bench password that is long enough";
const MAIL_TOKEN = "bench-postmark-token";
process.env.WRANGLER_SEND_METRICS = "false";

export function wrangler(...args) {
  const res = spawnSync(path.join(root, "node_modules/.bin/wrangler"), args, {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(`wrangler ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

/** A fresh local D1 under .bench/<name>, migrated. */
export function freshState(name) {
  // The benchmark measures the API; wrangler only needs the console's folder to exist.
  ensureConsoleDir();
  const persist = path.join(root, ".bench", name);
  rmSync(persist, { recursive: true, force: true });
  mkdirSync(persist, { recursive: true });
  wrangler("d1", "migrations", "apply", "DB", "--local", "--persist-to", persist);
  return persist;
}

/**
 * A Postmark-compatible capture server (`POST /email` and `POST /email/batch` with the server
 * token answer as Postmark does), so the worker's real postmark client mails every invitation over HTTP as it
 * would in production, without leaving the machine. It only counts what it receives.
 */
export async function startMailCapture(token = MAIL_TOKEN) {
  const received = { accepted: 0, rejected: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        // Answered below as Postmark answers a body that is not JSON.
      }
      const reply = (status, payload) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      };
      const batch = req.url === "/email/batch";
      if (req.method !== "POST" || (req.url !== "/email" && !batch)) {
        received.rejected++;
        return reply(404, { ErrorCode: 404, Message: "Not found." });
      }
      if (req.headers["x-postmark-server-token"] !== token) {
        received.rejected++;
        return reply(401, { ErrorCode: 10, Message: "Bad or missing Server API token." });
      }
      const answer = (message) => {
        if (!message?.From || !message?.To) {
          received.rejected++;
          return { ErrorCode: 300, Message: "Invalid email request." };
        }
        received.accepted++;
        return {
          To: message.To,
          SubmittedAt: new Date().toISOString(),
          MessageID: randomUUID(),
          ErrorCode: 0,
          Message: "OK",
        };
      };
      if (batch) {
        if (!Array.isArray(body)) return reply(422, { ErrorCode: 402, Message: "Invalid JSON" });
        return reply(200, body.map(answer));
      }
      const one = answer(body);
      reply(one.ErrorCode === 0 ? 200 : 422, one);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    token,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * The worker on local workerd. `inspector` is off for measuring (the DevTools inspector adds
 * Node CPU to every D1 query and would swamp what we measure) and on only for profiling.
 */
/**
 * wrangler.toml without its `[assets]`: locally, workerd runs the static-assets router as
 * a worker of its own in front of ours, which costs about a third of a bare route's
 * throughput; on Cloudflare that routing is the platform's. The API is measured alone, as
 * the peer's harness measures its worker.
 */
function apiOnlyConfig() {
  const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8")
    .replace(/^\[assets\][\s\S]*?\n\]\n/m, "")
    .replace(/^main = "(.*)"$/m, (_, main) => `main = "${path.join(root, main)}"`)
    .replace(
      /^migrations_dir = "(.*)"$/m,
      (_, dir) => `migrations_dir = "${path.join(root, dir)}"`,
    );
  if (/^\[assets\]/m.test(toml)) throw new Error("could not drop [assets] from wrangler.toml");
  const file = path.join(root, ".bench", "wrangler.api.toml");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, toml);
  return file;
}

export async function startWorker({
  persist,
  mail,
  inspector = false,
  production = false,
  secrets = RUN_SECRETS,
}) {
  const vars = { ...DEV_VARS, ...secrets };
  if (mail) {
    vars.POSTMARK_SERVER_TOKEN = mail.token;
    vars.POSTMARK_API_URL = mail.url;
  }
  if (production) {
    // As deployed: no development round-trip counting, HSTS, https links.
    vars.ENVIRONMENT = "production";
    vars.APP_URL = "https://bench.example.test";
  }
  const worker = await unstable_startWorker({
    config: apiOnlyConfig(),
    bindings: Object.fromEntries(
      Object.entries(vars).map(([name, value]) => [name, { type: "plain_text", value }]),
    ),
    // The programmatic API does not derive this from compatibility_flags as `wrangler dev` does.
    build: {
      nodejsCompatMode: (config) =>
        config.compatibility_flags.includes("nodejs_compat") ? "v2" : null,
    },
    dev: {
      inspector: inspector ? { hostname: "127.0.0.1", port: 0 } : false,
      persist,
      watch: false,
      server: { hostname: "127.0.0.1", port: 0 },
      logLevel: "warn",
    },
  });
  await worker.ready;
  const base = (await worker.url).toString().replace(/\/$/, "");
  return { worker, base };
}

/**
 * `startWorker` in a child process (scripts/bench-worker.mjs): what the benchmark measures
 * with, so the load generator and the mail capture do not compete with wrangler's own Node
 * event loop. Answers the same shape: `worker.dispose()` and `base`.
 */
export async function startWorkerProcess({ persist, mail, production = false }) {
  const options = {
    persist,
    mail: mail && { token: mail.token, url: mail.url },
    production,
    secrets: RUN_SECRETS,
  };
  const child = spawn(
    process.execPath,
    [path.join(root, "scripts/bench-worker.mjs"), JSON.stringify(options)],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const base = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const ready = /^ready (\S+)$/m.exec(out);
      if (ready) resolve(ready[1]);
    });
    child.once("exit", (code) => reject(new Error(`bench worker exited with ${code}`)));
  });
  const worker = {
    dispose: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
  return { worker, base };
}

/** A JSON client of the worker at `base`. */
export function client(base) {
  async function api(method, route, { token, body } = {}) {
    const res = await fetch(base + route, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : null,
      roundTrips: Number(res.headers.get("x-d1-round-trips")),
    };
  }

  async function newAccount(i) {
    const email = `bench-admin-${i}-${Date.now()}@example.com`;
    const created = await api("POST", "/v1/platform/accounts", {
      token: PLATFORM,
      body: {
        name: `Bench ${i}`,
        plan: "enterprise",
        admin_email: email,
        admin_password: PASSWORD,
      },
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const login = await api("POST", "/v1/auth/login", { body: { email, password: PASSWORD } });
    return { email, token: login.body.access_token, accountId: created.body.account.id };
  }

  /** `count` more users in the account, one request at a time (each hashes a password). */
  async function addUsers(account, count, prefix = "u") {
    for (let i = 0; i < count; i++) {
      const made = await api("POST", "/v1/users", {
        token: account.token,
        body: {
          email: `${prefix}${i}@bench.example`,
          first_name: "U",
          last_name: String(i),
          password: PASSWORD,
        },
      });
      if (made.status !== 201) throw new Error(JSON.stringify(made.body));
    }
  }

  /**
   * The measured account: its administrator and 50 users (a full page of 50 and a next
   * cursor), with room for every invitation a row sends (the enterprise plan's 1,000 seats
   * would fill).
   */
  async function benchAccount() {
    const one = await newAccount(0);
    const raised = await api("PATCH", `/v1/platform/accounts/${one.accountId}`, {
      token: PLATFORM,
      body: { user_limit: 1_000_000 },
    });
    if (raised.status !== 200) throw new Error(JSON.stringify(raised.body));
    await addUsers(one, 50);
    return one;
  }

  /** One request as `get`/`post` build them for a load run, sent once (to count its round trips). */
  const probe = (request) =>
    api(request.method, request.path, {
      token: request.headers.authorization?.slice("Bearer ".length),
      body: request.body ? JSON.parse(request.body) : undefined,
    });

  return { api, newAccount, addUsers, benchAccount, probe };
}

/** One autocannon run; `make(i)` builds the i-th request, so runs can rotate accounts or bodies. */
export function load(base, make, { seconds, connections }) {
  return new Promise((resolve, reject) => {
    let i = 0;
    const first = make(0);
    const instance = autocannon(
      {
        url: base,
        connections,
        duration: seconds,
        requests: [{ ...first, setupRequest: (req) => ({ ...req, ...make(i++) }) }],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    autocannon.track(instance, {
      renderProgressBar: false,
      renderResultsTable: false,
      renderLatencyTable: false,
    });
  });
}

export const get = (route, token) => ({
  method: "GET",
  path: route,
  headers: token ? { authorization: `Bearer ${token}` } : {},
});

export const post = (route, token, body) => ({
  method: "POST",
  path: route,
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** The workerd processes started by this script (its descendants), by pid. */
export function workerdPids() {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  const found = [];
  const todo = [process.pid];
  while (todo.length) {
    for (const pid of children.get(todo.pop()) ?? []) {
      todo.push(pid);
      try {
        if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "workerd") found.push(pid);
      } catch {
        // Gone.
      }
    }
  }
  return found;
}

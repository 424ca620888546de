/// <reference types="vite/types/importMeta.d.ts" />
/**
 * Production configuration: no secret in wrangler.toml, production unless told otherwise,
 * 503 misconfigured for a missing or weak secret (naming variables, never values), and
 * signing keys that rotate.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { DEVELOPMENT_SECRETS } from "../../src/config";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import wranglerToml from "../../wrangler.toml?raw";
import { call, createAccount, expectProblem, login, PASSWORD } from "../helpers";

const STRONG = {
  JWT_SIGNING_KEY: "k".repeat(24) + crypto.randomUUID(),
  PLATFORM_ADMIN_TOKEN: "p".repeat(24) + crypto.randomUUID(),
  ENCRYPTION_KEY: "e".repeat(24) + crypto.randomUUID(),
  POSTMARK_SERVER_TOKEN: "postmark-server-token",
  APP_URL: "https://users.example.com",
  // The suite's cheap password hashing is for development only.
  PASSWORD_HASH_COST: undefined,
};

/** The worker's fetch with other variables, as a deployment with those settings would run. */
async function fetchWith(
  vars: Record<string, string | undefined>,
  path: string,
  init?: RequestInit,
) {
  const bindings = { ...env, ...vars } as unknown as Bindings;
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete (bindings as any)[k];
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`https://users.example.com${path}`, init),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

describe("wrangler.toml", () => {
  it("holds no secret and defaults to production", () => {
    expect(wranglerToml).toMatch(/^ENVIRONMENT = "production"$/m);
    for (const name of [
      "JWT_SIGNING_KEY",
      "PLATFORM_ADMIN_TOKEN",
      "ENCRYPTION_KEY",
      "POSTMARK_SERVER_TOKEN",
      "PASSWORD_PEPPER",
    ]) {
      expect(wranglerToml).not.toMatch(new RegExp(`^${name}\\s*=`, "m"));
    }
    for (const value of Object.values(DEVELOPMENT_SECRETS))
      expect(wranglerToml).not.toContain(value);
  });
});

describe("one configuration module", () => {
  // Vite reads the sources at build time; the worker pool has no file system of its own.
  const sources = import.meta.glob<string>("../../src/**/*.ts", {
    query: "?raw",
    import: "default",
    eager: true,
  });

  it("is the only file that reads a setting from env or compares ENVIRONMENT", () => {
    const BINDINGS = new Set(["DB", "TOKENS", "ACCOUNT", "EVENTS", "ASSETS"]);
    const files = Object.entries(sources).filter(
      ([file]) => !file.endsWith("/src/config.ts") && !file.endsWith(".d.ts"),
    );
    expect(files.length).toBeGreaterThan(50);
    const found: string[] = [];
    for (const [file, text] of files) {
      for (const [, name] of text.matchAll(/\benv\.([A-Za-z_][A-Za-z0-9_]*)/g))
        if (!BINDINGS.has(name!)) found.push(`${file}: env.${name}`);
      if (/\bENVIRONMENT\b|["']development["']/.test(text)) found.push(`${file}: ENVIRONMENT`);
    }
    expect(found).toEqual([]);
  });
});

describe("the README's Deploy section", () => {
  const deploy = /^## Deploy\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1] ?? "";

  it("creates every resource wrangler.toml binds, puts every secret, migrates remotely and explains misconfigured", () => {
    expect(deploy).not.toBe("");
    const queues = new Set(
      [...wranglerToml.matchAll(/^(?:queue|dead_letter_queue) = "([^"]+)"$/gm)].map((m) => m[1]),
    );
    expect(queues.size).toBeGreaterThan(0);
    for (const queue of queues)
      expect(deploy).toMatch(new RegExp(`wrangler queues create ${queue}\\s`));
    expect(deploy).toMatch(/wrangler d1 create \S+/);
    expect(deploy).toMatch(/wrangler kv namespace create \S+/);
    for (const name of [...Object.keys(DEVELOPMENT_SECRETS), "POSTMARK_SERVER_TOKEN"])
      expect(deploy).toMatch(new RegExp(`wrangler secret put ${name}\\b`));
    expect(deploy).toMatch(/wrangler d1 migrations apply DB --remote/);
    expect(deploy).toContain("misconfigured");
  });
});

describe("outside development", () => {
  const production = { ENVIRONMENT: "production", ...STRONG };

  it("serves with strong secrets, https APP_URL and a Postmark token", async () => {
    const res = await fetchWith(production, "/health");
    expect(res.status).toBe(200);
  });

  it("is production when ENVIRONMENT is not set", async () => {
    const res = await fetchWith(
      { ...STRONG, ENVIRONMENT: undefined, POSTMARK_SERVER_TOKEN: undefined },
      "/health",
    );
    expectProblem(res as any, 503, "misconfigured");
  });

  it.each([
    ["JWT_SIGNING_KEY missing", { JWT_SIGNING_KEY: undefined }, ["JWT_SIGNING_KEY"]],
    [
      "JWT_SIGNING_KEY under 32 bytes",
      { JWT_SIGNING_KEY: "short-but-not-empty" },
      ["JWT_SIGNING_KEY"],
    ],
    [
      "JWT_SIGNING_KEY the development value",
      { JWT_SIGNING_KEY: DEVELOPMENT_SECRETS.JWT_SIGNING_KEY },
      ["JWT_SIGNING_KEY"],
    ],
    [
      "a weak key among rotated ones",
      { JWT_SIGNING_KEY: `${STRONG.JWT_SIGNING_KEY},weak` },
      ["JWT_SIGNING_KEY"],
    ],
    [
      "PLATFORM_ADMIN_TOKEN the development value",
      { PLATFORM_ADMIN_TOKEN: DEVELOPMENT_SECRETS.PLATFORM_ADMIN_TOKEN },
      ["PLATFORM_ADMIN_TOKEN"],
    ],
    ["PLATFORM_ADMIN_TOKEN missing", { PLATFORM_ADMIN_TOKEN: undefined }, ["PLATFORM_ADMIN_TOKEN"]],
    ["ENCRYPTION_KEY missing", { ENCRYPTION_KEY: undefined }, ["ENCRYPTION_KEY"]],
    [
      "ENCRYPTION_KEY under 32 bytes",
      { ENCRYPTION_KEY: "short-but-not-empty" },
      ["ENCRYPTION_KEY"],
    ],
    [
      "ENCRYPTION_KEY the development value",
      { ENCRYPTION_KEY: DEVELOPMENT_SECRETS.ENCRYPTION_KEY },
      ["ENCRYPTION_KEY"],
    ],
    ["no Postmark token", { POSTMARK_SERVER_TOKEN: undefined }, ["POSTMARK_SERVER_TOKEN"]],
    ["a cheaper password hash", { PASSWORD_HASH_COST: "1024" }, ["PASSWORD_HASH_COST"]],
    [
      "a password hash cost that is no power of two",
      { PASSWORD_HASH_COST: "20000" },
      ["PASSWORD_HASH_COST"],
    ],
    ["an http APP_URL", { APP_URL: "http://users.example.com" }, ["APP_URL"]],
    [
      "everything at once",
      {
        JWT_SIGNING_KEY: undefined,
        PLATFORM_ADMIN_TOKEN: "x",
        POSTMARK_SERVER_TOKEN: undefined,
        APP_URL: undefined,
      },
      ["JWT_SIGNING_KEY", "PLATFORM_ADMIN_TOKEN", "APP_URL", "POSTMARK_SERVER_TOKEN"],
    ],
  ])("refuses every request with 503 misconfigured: %s", async (_, vars, names) => {
    const merged = { ...production, ...vars } as Record<string, string | undefined>;
    for (const path of [
      "/health",
      "/health/live",
      "/v1/users",
      "/v1/auth/login",
      "/openapi.json",
    ]) {
      const res = await fetchWith(merged, path);
      expectProblem(res as any, 503, "misconfigured");
      expect(res.body.variables).toEqual(names);
      for (const name of names) expect(res.body.detail).toContain(name);
      for (const value of Object.values(merged)) {
        if (value && value.length > 8 && !value.startsWith("http"))
          expect(JSON.stringify(res.body)).not.toContain(value);
      }
    }
  });
});

describe("in development", () => {
  it("keeps today's defaults", async () => {
    const res = await fetchWith(
      {
        ENVIRONMENT: "development",
        JWT_SIGNING_KEY: undefined,
        PLATFORM_ADMIN_TOKEN: undefined,
        APP_URL: undefined,
      },
      "/v1/dev/outbox",
      {
        headers: { authorization: `Bearer ${DEVELOPMENT_SECRETS.PLATFORM_ADMIN_TOKEN}` },
      },
    );
    expect(res.status).toBe(200);
  });
});

describe("signing key rotation", () => {
  it("signs with the first key, verifies with every listed key, and names the key in kid", async () => {
    const acct = await createAccount();
    const oldKey = env.JWT_SIGNING_KEY as string;
    const newKey = `rotated-${crypto.randomUUID()}-${crypto.randomUUID()}`;
    const fresh = await login(acct.adminEmail, PASSWORD);
    const header = JSON.parse(
      atob(fresh.access_token.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/")),
    );
    expect(header).toMatchObject({ alg: "HS256", kid: expect.stringMatching(/^[0-9a-f]{16}$/) });

    const me = (key: string, token: string) =>
      fetchWith({ JWT_SIGNING_KEY: key }, "/v1/me", {
        headers: { authorization: `Bearer ${token}` },
      });
    // The new key first, the old one still listed: tokens of the old key keep working.
    expect((await me(`${newKey},${oldKey}`, fresh.access_token)).status).toBe(200);
    // Once the old key is dropped, they stop.
    expectProblem((await me(newKey, fresh.access_token)) as any, 401, "unauthorized");

    // A token signed while the new key is first carries the new kid and works under both lists.
    const bindings = { ...env, JWT_SIGNING_KEY: `${newKey},${oldKey}` } as unknown as Bindings;
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://api.test/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: acct.adminEmail, password: PASSWORD }),
      }),
      bindings,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const rotated = ((await res.json()) as { access_token: string }).access_token;
    const rotatedHeader = JSON.parse(
      atob(rotated.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/")),
    );
    expect(rotatedHeader.kid).not.toBe(header.kid);
    expect((await me(newKey, rotated)).status).toBe(200);
    expectProblem((await me(oldKey, rotated)) as any, 401, "unauthorized");
    // The suite's own configuration is untouched by all this.
    expect((await call("GET", "/v1/me", { token: fresh.access_token })).status).toBe(200);
  });
});

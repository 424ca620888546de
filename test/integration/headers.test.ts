/**
 * Response headers: no caching of API answers (they carry secrets), nosniff everywhere, HSTS
 * outside development; CORS only for the configured dashboard origins.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import wranglerToml from "../../wrangler.toml?raw";
import {
  call,
  createAccount,
  createUser,
  expectProblem,
  newMail,
  outbox,
  PASSWORD,
  PLATFORM_TOKEN,
  type Reply,
  uniqueEmail,
} from "../helpers";

const HSTS = "max-age=63072000; includeSubDomains";
const DASHBOARD = "https://dashboard.example";

function expectNoStore(res: Reply, what: string) {
  expect(res.headers.get("cache-control"), what).toBe("no-store");
  expect(res.headers.get("x-content-type-options"), what).toBe("nosniff");
}

describe("security headers", () => {
  it("every answer carrying a secret is no-store and nosniff", async () => {
    const acct = await createAccount();
    const member = await createUser(acct);
    const secrets: [string, Reply, string][] = [];
    const login = await call("POST", "/v1/auth/login", {
      body: { email: acct.adminEmail, password: PASSWORD },
    });
    secrets.push(["login", login, "refresh_token"]);
    const refresh = await call("POST", "/v1/auth/refresh", {
      body: { refresh_token: login.body.refresh_token },
    });
    secrets.push(["refresh", refresh, "refresh_token"]);
    const token = await call("POST", "/v1/api-tokens", {
      token: acct.token,
      body: { name: "ci", permissions: ["users:read"] },
    });
    secrets.push(["api token", token, "token"]);
    const hook = await call("POST", "/v1/webhooks", {
      token: acct.token,
      body: { url: "http://127.0.0.1:9/hook", events: ["*"] },
    });
    secrets.push(["webhook", hook, "secret"]);
    const rotated = await call("POST", `/v1/webhooks/${hook.body.id}/rotate-secret`, {
      token: acct.token,
    });
    secrets.push(["rotation", rotated, "secret"]);
    const reset = await call("POST", `/v1/users/${member.id}/password-reset`, {
      token: acct.token,
      body: {},
    });
    secrets.push(["admin reset", reset, "temporary_password"]);
    const email = uniqueEmail("invitee");
    const before = await outbox(email);
    expect(
      (await call("POST", "/v1/invitations", { token: acct.token, body: { email } })).status,
    ).toBe(201);
    const link = /[?&]token=([^\s"'<>&]+)/.exec((await newMail(email, before)).text)![1]!;
    const accepted = await call("POST", "/v1/invitations/accept", {
      body: {
        token: decodeURIComponent(link),
        first_name: "Grace",
        last_name: "Hopper",
        password: PASSWORD,
      },
    });
    secrets.push(["invitation accept", accepted, "access_token"]);

    for (const [what, res, field] of secrets) {
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      expect(typeof res.body[field], what).toBe("string");
      expectNoStore(res, what);
    }
    // Reads, errors and not-founds under /v1 too: no API answer is worth caching.
    expectNoStore(await call("GET", "/v1/me", { token: acct.token }), "read");
    expectNoStore(await call("GET", "/v1/me"), "401");
    expectNoStore(await call("GET", "/v1/nope"), "404");
  });

  it("nosniff on every answer; no HSTS in development", async () => {
    for (const path of ["/health/live", "/openapi.json", "/docs", "/v1/me", "/nope"]) {
      const res = await call("GET", path);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("strict-transport-security"), path).toBeNull();
    }
    expect((await call("GET", "/health/live")).headers.get("cache-control")).toBeNull();
  });

  it("a request id on every answer, one per request: reads, errors, not-founds and pages", async () => {
    const acct = await createAccount();
    const seen = new Set<string>();
    for (const [path, token] of [
      ["/v1/me", acct.token],
      ["/v1/me", undefined],
      ["/v1/nope", undefined],
      ["/activate?token=x", undefined],
      ["/health/live", undefined],
    ] as const) {
      const res = await call("GET", path, { token });
      const id = res.headers.get("x-request-id");
      expect(id, path).toMatch(/^req_[0-9a-z]{26}$/);
      seen.add(id!);
    }
    expect(seen.size).toBe(5);
  });

  it("HSTS on every answer outside development", async () => {
    const production = { ...env, ENVIRONMENT: "production" } as unknown as Bindings;
    for (const path of ["/health/live", "/v1/me", "/nope", "/activate?token=x"]) {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`https://api.test${path}`), production, ctx);
      await waitOnExecutionContext(ctx);
      expect(res.headers.get("strict-transport-security"), path).toBe(HSTS);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      await res.arrayBuffer();
    }
  });
});

describe("CORS", () => {
  const preflight = (path: string, origin: string) =>
    call("OPTIONS", path, {
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });

  it("answers a preflight from a listed origin with the methods and headers allowed", async () => {
    for (const origin of [DASHBOARD, "https://admin.example"]) {
      const res = await preflight("/v1/users", origin);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(res.headers.get("access-control-allow-methods")!.split(",")).toEqual(
        expect.arrayContaining(["GET", "POST", "PUT", "PATCH", "DELETE"]),
      );
      expect(res.headers.get("access-control-allow-headers")!.split(",")).toEqual(
        expect.arrayContaining(["authorization", "content-type"]),
      );
      expect(res.headers.get("vary")).toMatch(/\bOrigin\b/);
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  it("lets a listed origin read answers and errors, exposing x-request-id and retry-after", async () => {
    const acct = await createAccount();
    const ok = await call("GET", "/v1/me", { token: acct.token, headers: { origin: DASHBOARD } });
    expect(ok.status).toBe(200);
    const denied = await call("GET", "/v1/me", { headers: { origin: DASHBOARD } });
    expectProblem(denied, 401, "unauthorized");
    for (const res of [ok, denied]) {
      expect(res.headers.get("access-control-allow-origin")).toBe(DASHBOARD);
      expect(res.headers.get("access-control-expose-headers")!.split(",")).toEqual(
        expect.arrayContaining(["x-request-id", "retry-after"]),
      );
      expect(res.headers.get("vary")).toMatch(/\bOrigin\b/);
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  it("allows no origin at all when CORS_ORIGINS is empty, as it is by default", async () => {
    expect(wranglerToml).toMatch(/^CORS_ORIGINS = ""$/m);
    const none = { ...env, CORS_ORIGINS: "" } as unknown as Bindings;
    for (const method of ["OPTIONS", "GET"]) {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request("https://api.test/v1/users", {
          method,
          headers: {
            origin: DASHBOARD,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
          },
        }),
        none,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      await res.arrayBuffer();
      expect(res.status, method).not.toBe(204);
      const cors = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
      expect(cors, method).toEqual([]);
    }
  });

  it("gives other origins, and the platform, reseller and dev routes, no CORS headers", async () => {
    const cases: [string, string][] = [
      ["/v1/users", "https://evil.example"],
      ["/v1/users", "https://dashboard.example.evil.example"],
      ["/v1/users", "http://dashboard.example"],
      ["/v1/platform/accounts", DASHBOARD],
      ["/v1/reseller/accounts", DASHBOARD],
      ["/v1/dev/outbox", DASHBOARD],
    ];
    for (const [path, origin] of cases) {
      const pre = await preflight(path, origin);
      expect(pre.status, `${path} ${origin}`).not.toBe(204);
      const get = await call("GET", path, { token: PLATFORM_TOKEN, headers: { origin } });
      for (const res of [pre, get]) {
        const cors = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
        expect(cors, `${path} ${origin}`).toEqual([]);
      }
      // Another origin would be answered otherwise: a shared cache must not reuse this.
      if (path === "/v1/users") {
        for (const res of [pre, get]) expect(res.headers.get("vary"), origin).toMatch(/^Origin$/);
      }
    }
  });
});

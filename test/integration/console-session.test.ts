/** The console's cookie-held session: /v1/auth/cookie/{login,exchange,refresh,logout}. */
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  type CallOptions,
  call,
  count,
  createAccount,
  createUser,
  expectProblem,
  PASSWORD,
  rows,
} from "../helpers";
import { setCookies } from "../oidc/idp-login";
import { connect, newDomain, ssoLogin } from "../sso-helpers";

const OWN_ORIGIN = "http://127.0.0.1:8787";
const COOKIE = "console_refresh";

afterEach(() => {
  clock.offsetMs = 0;
});

/** A same-origin request from the console, as Chromium sends it. */
const fromConsole = (path: string, opts: CallOptions & { cookie?: string } = {}) =>
  call("POST", `/v1/auth/cookie${path}`, {
    body: {},
    ...opts,
    headers: {
      origin: OWN_ORIGIN,
      "sec-fetch-site": "same-origin",
      ...(opts.cookie ? { cookie: `${COOKIE}=${opts.cookie}` } : {}),
      ...opts.headers,
    },
  });

/** The refresh cookie a response set: its value and attributes. */
function refreshCookieOf(headers: Headers) {
  const line = setCookies(headers).find((l) => l.startsWith(`${COOKIE}=`));
  if (!line) return null;
  const [pair, ...attributes] = line.split(";").map((s) => s.trim());
  return { value: pair!.slice(COOKIE.length + 1), attributes };
}

async function consoleLogin(email: string) {
  const res = await fromConsole("/login", { body: { email, password: PASSWORD } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { res, cookie: refreshCookieOf(res.headers)!.value };
}

const sessionsOf = (userId: string) =>
  rows<{ id: string; revoked_at: number | null }>(
    "SELECT id, revoked_at FROM sessions WHERE user_id = ? ORDER BY created_at",
    userId,
  );

/** The session a console access token belongs to. */
async function sessionOf(accessToken: string) {
  const me = await call("GET", "/v1/me", { token: accessToken });
  expect(me.status).toBe(200);
  const id = me.body.authenticated_via.id as string;
  return {
    id,
    revoked: async () =>
      (
        await rows<{ revoked_at: number | null }>(
          "SELECT revoked_at FROM sessions WHERE id = ?",
          id,
        )
      )[0]!.revoked_at !== null,
  };
}

describe("console sign-in", () => {
  it("answers the access token and keeps the refresh token in an httpOnly, SameSite=Strict, path-scoped cookie", async () => {
    const admin = await createAccount("team");
    const user = await createUser(admin);
    const { res, cookie } = await consoleLogin(user.email);
    expect(res.body).toMatchObject({
      token_type: "Bearer",
      expires_in: 900,
      must_change_password: false,
      user: { id: user.id, email: user.email },
    });
    expect(res.body).not.toHaveProperty("refresh_token");
    expect(JSON.stringify(res.body)).not.toContain(cookie);
    const set = refreshCookieOf(res.headers)!;
    expect(set.value).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(set.attributes).toEqual(
      expect.arrayContaining([
        "HttpOnly",
        "SameSite=Strict",
        "Path=/v1/auth/cookie",
        "Max-Age=2592000",
      ]),
    );
    // Development on http loopback: no Secure, which the browser would refuse there.
    expect(set.attributes).not.toContain("Secure");
    expect(res.headers.get("cache-control")).toBe("no-store");

    const me = await call("GET", "/v1/me", { token: res.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.authenticated_via.type).toBe("session");
  });

  it("refuses bad input and wrong passwords with a problem, setting no cookie and starting no session", async () => {
    const admin = await createAccount("team");
    const user = await createUser(admin);
    const before = (await sessionsOf(user.id)).length;
    const wrong = await fromConsole("/login", { body: { email: user.email, password: "nope" } });
    expectProblem(wrong, 401, "invalid_credentials");
    expect(refreshCookieOf(wrong.headers)).toBeNull();
    const unknownField = await fromConsole("/login", {
      body: { email: user.email, password: PASSWORD, refresh_token: "x" },
    });
    expectProblem(unknownField, 422, "validation_failed");
    expect(unknownField.body.errors[0]).toMatchObject({ code: "unknown_field" });
    expectProblem(await fromConsole("/login", { body: { email: "" } }), 422, "validation_failed");
    expect(await sessionsOf(user.id)).toHaveLength(before);
  });
});

describe("console refresh", () => {
  it("rotates the cookie; presenting a used one ends the session and clears the cookie", async () => {
    const admin = await createAccount("team");
    const user = await createUser(admin);
    const first = await consoleLogin(user.email);
    const session = await sessionOf(first.res.body.access_token);

    const refreshed = await fromConsole("/refresh", { cookie: first.cookie });
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    expect(refreshed.body).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    expect(refreshed.body).not.toHaveProperty("refresh_token");
    const second = refreshCookieOf(refreshed.headers)!.value;
    expect(second).not.toBe(first.cookie);
    expect((await call("GET", "/v1/me", { token: refreshed.body.access_token })).status).toBe(200);

    // The first cookie again: it leaked, so the whole session ends.
    const reused = await fromConsole("/refresh", { cookie: first.cookie });
    expectProblem(reused, 401, "invalid_refresh_token");
    expect(refreshCookieOf(reused.headers)).toMatchObject({ value: "" });
    expect(refreshCookieOf(reused.headers)!.attributes).toContain("Max-Age=0");
    expectProblem(await fromConsole("/refresh", { cookie: second }), 401, "invalid_refresh_token");
    expect((await call("GET", "/v1/me", { token: refreshed.body.access_token })).status).toBe(401);
    expect(await session.revoked()).toBe(true);
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'auth.refresh_token_reused' AND subject_id = ?",
        user.id,
      ),
    ).toBe(1);
  });

  it("lets exactly one of many concurrent refreshes with the same cookie through, and ends the session", async () => {
    const admin = await createAccount("team");
    const user = await createUser(admin);
    const { res, cookie } = await consoleLogin(user.email);
    const session = await sessionOf(res.body.access_token);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => fromConsole("/refresh", { cookie })),
    );
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
    for (const r of results.filter((x) => x.status !== 200))
      expectProblem(r, 401, "invalid_refresh_token");
    expect(await session.revoked()).toBe(true);
  });

  it("answers 401 without a cookie, with another cookie's name, or with a garbage value", async () => {
    expectProblem(await fromConsole("/refresh"), 401, "invalid_refresh_token");
    expectProblem(
      await fromConsole("/refresh", { headers: { cookie: "refresh_token=abc" } }),
      401,
      "invalid_refresh_token",
    );
    expectProblem(
      await fromConsole("/refresh", { cookie: "x".repeat(500) }),
      401,
      "invalid_refresh_token",
    );
    expectProblem(
      await fromConsole("/refresh", { body: { refresh_token: "x" } }),
      422,
      "validation_failed",
    );
  });

  it("an expired session cannot be refreshed", async () => {
    const admin = await createAccount("team");
    const user = await createUser(admin);
    const { cookie } = await consoleLogin(user.email);
    clock.offsetMs = 8 * 24 * 60 * 60 * 1000; // a week without use ends it
    expectProblem(await fromConsole("/refresh", { cookie }), 401, "invalid_refresh_token");
  });
});

describe("cross-site requests cannot use the cookie", () => {
  it("refuses a form post (no JSON), another origin, a cross-site fetch, and grants no CORS preflight", async () => {
    const admin = await createAccount("team");
    const user = await createUser(admin);
    const { res, cookie } = await consoleLogin(user.email);
    const session = await sessionOf(res.body.access_token);

    // What a cross-site <form> can send: urlencoded, no custom headers.
    const form = await call("POST", "/v1/auth/cookie/refresh", {
      raw: "a=b",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: `${COOKIE}=${cookie}`,
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
      },
    });
    expect(form.status).toBeGreaterThanOrEqual(400);
    expect(form.status).toBeLessThan(500);
    expect(refreshCookieOf(form.headers)?.value ?? "").toBe("");

    expectProblem(
      await fromConsole("/refresh", { cookie, headers: { origin: "https://evil.example" } }),
      403,
      "forbidden",
    );
    // A sibling of the same site, even one listed in CORS_ORIGINS.
    expectProblem(
      await fromConsole("/refresh", {
        cookie,
        headers: { origin: "https://dashboard.example", "sec-fetch-site": "same-site" },
      }),
      403,
      "forbidden",
    );
    expectProblem(
      await fromConsole("/logout", { cookie, headers: { "sec-fetch-site": "cross-site" } }),
      403,
      "forbidden",
    );
    const preflight = await call("OPTIONS", "/v1/auth/cookie/refresh", {
      headers: {
        origin: "https://dashboard.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();

    // None of that touched the session: the cookie still refreshes once.
    expect((await fromConsole("/refresh", { cookie })).status).toBe(200);
    expect(await session.revoked()).toBe(false);
  });
});

describe("console sign-out", () => {
  it("ends the cookie's session and clears the cookie; without a session it still answers 204", async () => {
    const admin = await createAccount("team");
    const user = await createUser(admin);
    const { res, cookie } = await consoleLogin(user.email);
    const out = await fromConsole("/logout", { cookie });
    expect(out.status).toBe(204);
    expect(refreshCookieOf(out.headers)).toMatchObject({ value: "" });
    expect((await call("GET", "/v1/me", { token: res.body.access_token })).status).toBe(401);
    expectProblem(await fromConsole("/refresh", { cookie }), 401, "invalid_refresh_token");
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'auth.logout' AND subject_id = ?",
        user.id,
      ),
    ).toBe(1);
    // Again, and with no cookie at all: nothing left to end.
    expect((await fromConsole("/logout", { cookie })).status).toBe(204);
    expect((await fromConsole("/logout")).status).toBe(204);
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'auth.logout' AND subject_id = ?",
        user.id,
      ),
    ).toBe(1);
  });

  it("ends only its own session: another user's cookie session is untouched", async () => {
    const admin = await createAccount("team");
    const a = await createUser(admin);
    const b = await createUser(admin);
    const sa = await consoleLogin(a.email);
    const sb = await consoleLogin(b.email);
    expect((await fromConsole("/logout", { cookie: sa.cookie })).status).toBe(204);
    expect((await fromConsole("/refresh", { cookie: sb.cookie })).status).toBe(200);
  });
});

describe("console Team Login exchange", () => {
  it("trades the one-time code for an access token and the cookie, once", async () => {
    const admin = await createAccount();
    const domain = newDomain();
    await connect(admin, domain);
    const { res } = await ssoLogin(
      `email=ada@${domain}&redirect_to=${encodeURIComponent(`${OWN_ORIGIN}/sso/callback`)}`,
      { sub: `sub-${Date.now().toString(36)}`, email: `ada@${domain}` },
    );
    expect(res.status).toBe(302);
    const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
    const exchanged = await fromConsole("/exchange", { body: { code } });
    expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
    expect(exchanged.body.user.email).toBe(`ada@${domain}`);
    expect(exchanged.body).not.toHaveProperty("refresh_token");
    const cookie = refreshCookieOf(exchanged.headers)!.value;
    expect((await fromConsole("/refresh", { cookie })).status).toBe(200);
    expectProblem(await fromConsole("/exchange", { body: { code } }), 400, "sso_code_invalid");
    expectProblem(await fromConsole("/exchange", { body: {} }), 422, "validation_failed");
  });
});

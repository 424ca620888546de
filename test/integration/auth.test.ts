/** Auth: login, throttling, refresh, logout, the password gate, /v1/me. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  createAccount,
  createUser,
  expectProblem,
  freshIp,
  login,
  PASSWORD,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

const NEW_PASSWORD = "a brand new passphrase for tests 7";
const MINUTE = 60_000;

afterEach(() => {
  clock.offsetMs = 0;
});

// ---- local helpers --------------------------------------------------------------------

const row = <T = Record<string, any>>(query: string, ...binds: unknown[]) =>
  env.DB.prepare(query)
    .bind(...binds)
    .first<T>();

const events = (type: string, subjectId: string) =>
  rows(
    "SELECT * FROM activity_events WHERE type = ? AND subject_id = ? ORDER BY occurred_at, id",
    type,
    subjectId,
  );

const attempt = (email: string, password: string, ip?: string, headers?: Record<string, string>) =>
  call("POST", "/v1/auth/login", { body: { email, password }, ip, headers });

const refresh = (refreshToken: string) =>
  call("POST", "/v1/auth/refresh", { body: { refresh_token: refreshToken } });

async function sessionIdOf(token: string): Promise<string> {
  const me = await call("GET", "/v1/me", { token });
  expect(me.status).toBe(200);
  return me.body.authenticated_via.id;
}

async function sha256Hex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The throttle row of one (email, IP) pair: the only key naming both. */
const pairCounter = (email: string, ip: string) =>
  row<{ failures: number }>(
    "SELECT failures FROM login_throttle WHERE instr(key, ?) > 0 AND instr(key, ?) > 0",
    email,
    ip,
  );

/** Creates a user through the API (without logging it in). */
async function addUser(acct: TestAccount, extra: Record<string, unknown> = {}) {
  const email = uniqueEmail("member");
  const res = await call("POST", "/v1/users", {
    token: acct.token,
    body: { email, first_name: "Pat", last_name: "Doe", password: PASSWORD, ...extra },
  });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email };
}

// ---- login ----------------------------------------------------------------------------

describe("POST /v1/auth/login", () => {
  it("logs in: token pair, user, last login stored, session and event recorded", async () => {
    const acct = await createAccount();
    const ip = freshIp();
    const res = await attempt(acct.adminEmail, PASSWORD, ip, { "user-agent": "auth-test/1.0" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: "Bearer",
      expires_in: 900,
      must_change_password: false,
      user: {
        id: acct.adminId,
        account_id: acct.accountId,
        email: acct.adminEmail,
        status: "active",
        must_change_password: false,
        // Members is everyone's group, the first administrator's too.
        group_ids: [acct.administratorsId, acct.membersId].sort(),
        last_login_ip: ip,
        last_login_method: "password",
      },
    });
    expect(res.body.user).not.toHaveProperty("password_hash");

    const user = await row(
      "SELECT last_login_at, last_login_ip, last_login_method FROM users WHERE id = ?",
      acct.adminId,
    );
    expect(user).toEqual({
      last_login_at: Date.parse(res.body.user.last_login_at),
      last_login_ip: ip,
      last_login_method: "password",
    });

    const sid = await sessionIdOf(res.body.access_token);
    const session = await row("SELECT * FROM sessions WHERE id = ?", sid);
    expect(session).toMatchObject({
      user_id: acct.adminId,
      account_id: acct.accountId,
      method: "password",
      ip,
      user_agent: "auth-test/1.0",
      revoked_at: null,
    });
    // Only the digest of the refresh token is stored.
    const tokens = await rows("SELECT token_hash FROM refresh_tokens WHERE session_id = ?", sid);
    expect(tokens).toEqual([{ token_hash: await sha256Hex(res.body.refresh_token) }]);

    const logged = (await events("auth.login.succeeded", acct.adminId)).filter((e) => e.ip === ip);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      account_id: acct.accountId,
      actor_type: "user",
      actor_id: acct.adminId,
      method: "password",
      user_agent: "auth-test/1.0",
    });
  });

  it("matches the email case-insensitively", async () => {
    const acct = await createAccount();
    const res = await attempt(`  ${acct.adminEmail.toUpperCase()}`, PASSWORD, freshIp());
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(acct.adminId);
    // An address created in mixed case is stored normalised and logs in in any case.
    const mixed = uniqueEmail("Mixed").replace("@example.com", "@Example.COM");
    const created = await call("POST", "/v1/users", {
      token: acct.token,
      body: { email: mixed, first_name: "Mo", last_name: "Case", password: PASSWORD },
    });
    expect(created.status).toBe(201);
    expect(created.body.email).toBe(mixed.toLowerCase());
    expect((await attempt(mixed.toLowerCase(), PASSWORD, freshIp())).body.user?.id).toBe(
      created.body.id,
    );
    expect((await attempt(mixed.toUpperCase(), PASSWORD, freshIp())).body.user?.id).toBe(
      created.body.id,
    );
  });

  it("answers a wrong password and an unknown email identically, and records the failure", async () => {
    const acct = await createAccount();
    const ip = freshIp();
    const wrong = await attempt(acct.adminEmail, "not the right password at all", ip, {
      "user-agent": "guesser",
    });
    const unknown = await attempt(uniqueEmail("nobody"), "not the right password at all", ip, {
      "user-agent": "guesser",
    });
    expectProblem(wrong, 401, "invalid_credentials");
    expectProblem(unknown, 401, "invalid_credentials");
    const { request_id: a, ...wrongBody } = wrong.body;
    const { request_id: b, ...unknownBody } = unknown.body;
    expect(a).not.toBe(b);
    expect(wrongBody).toEqual(unknownBody);

    const failed = await events("auth.login.failed", acct.adminId);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      actor_type: "anonymous",
      actor_id: null,
      method: "password",
      ip,
      user_agent: "guesser",
    });
    expect(JSON.parse(failed[0]!.metadata)).toEqual({ reason: "invalid_password" });
    expect((await pairCounter(acct.adminEmail, ip))?.failures).toBe(1);
  });

  it("rejects unknown fields and missing ones with 422", async () => {
    const extra = await call("POST", "/v1/auth/login", {
      body: { email: "a@example.com", password: "x", remember: true },
    });
    expectProblem(extra, 422, "validation_failed");
    expect(extra.body.errors).toContainEqual(
      expect.objectContaining({ path: "remember", code: "unknown_field" }),
    );
    expectProblem(
      await call("POST", "/v1/auth/login", { body: { email: "a@example.com" } }),
      422,
      "validation_failed",
    );
  });
});

// ---- throttling -----------------------------------------------------------------------

describe("login throttling", () => {
  it("locks the (email, IP) pair after 10 failures, for 15 minutes, even for the right password", async () => {
    const acct = await createAccount();
    const ip = freshIp();
    for (let i = 0; i < 10; i++) {
      expectProblem(
        await attempt(acct.adminEmail, `wrong password number ${i}`, ip),
        401,
        "invalid_credentials",
      );
    }
    expect((await pairCounter(acct.adminEmail, ip))?.failures).toBe(10);

    const locked = await attempt(acct.adminEmail, PASSWORD, ip);
    expectProblem(locked, 429, "too_many_attempts");
    const retryAfter = locked.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(900);

    // The same email from another address is unaffected.
    expect((await attempt(acct.adminEmail, PASSWORD, freshIp())).status).toBe(200);

    // Still locked just before the window ends, open after it.
    clock.offsetMs = 14 * MINUTE;
    expectProblem(await attempt(acct.adminEmail, PASSWORD, ip), 429, "too_many_attempts");
    clock.offsetMs = 15 * MINUTE + 1_000;
    const after = await attempt(acct.adminEmail, PASSWORD, ip);
    expect(after.status).toBe(200);
    expect(await pairCounter(acct.adminEmail, ip)).toBeNull();
  });

  it("a success clears the pair's counter", async () => {
    const acct = await createAccount();
    const ip = freshIp();
    for (let i = 0; i < 3; i++)
      expect((await attempt(acct.adminEmail, "wrong wrong wrong wrong", ip)).status).toBe(401);
    expect((await pairCounter(acct.adminEmail, ip))?.failures).toBe(3);
    expect((await attempt(acct.adminEmail, PASSWORD, ip)).status).toBe(200);
    expect(await pairCounter(acct.adminEmail, ip)).toBeNull();
    // Counting starts over: nine more failures do not lock the pair.
    for (let i = 0; i < 9; i++)
      expect((await attempt(acct.adminEmail, "wrong wrong wrong wrong", ip)).status).toBe(401);
    expect((await attempt(acct.adminEmail, PASSWORD, ip)).status).toBe(200);
  });
  it("counts before hashing: of 25 concurrent wrong passwords from one address, at most 10 are checked", async () => {
    const acct = await createAccount();
    const ip = freshIp();
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => attempt(acct.adminEmail, `wrong guess ${i}`, ip)),
    );
    const checked = results.filter((r) => r.status === 401);
    const refused = results.filter((r) => r.status === 429);
    expect(checked.length).toBeLessThanOrEqual(10);
    expect(checked.length + refused.length).toBe(25);
    for (const r of checked) expectProblem(r, 401, "invalid_credentials");
    for (const r of refused) {
      expectProblem(r, 429, "too_many_attempts");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Refused attempts count nothing: the counters hold the checked ones only.
    expect((await pairCounter(acct.adminEmail, ip))?.failures).toBe(checked.length);
    expect(
      (await row("SELECT failures FROM login_throttle WHERE key = ?", `email:${acct.adminEmail}`))
        ?.failures,
    ).toBe(checked.length);
    expect(await events("auth.login.failed", acct.adminId)).toHaveLength(checked.length);
  });

  it("a success takes its count back off the email and address counters", async () => {
    const acct = await createAccount();
    const ip = freshIp();
    expect((await attempt(acct.adminEmail, "wrong wrong wrong wrong", ip)).status).toBe(401);
    expect((await attempt(acct.adminEmail, PASSWORD, ip)).status).toBe(200);
    const counters = await rows(
      "SELECT key, failures FROM login_throttle WHERE key IN (?, ?)",
      `email:${acct.adminEmail}`,
      `ip:${ip}`,
    );
    expect(counters.map((c) => c.failures)).toEqual([1, 1]);
  });

  it("keys an IPv6 client by its /64: two addresses in one /64 share the pair counter", async () => {
    const acct = await createAccount();
    const prefix = `2001:db8:${(Date.now() % 65535).toString(16)}:7`;
    for (let i = 0; i < 5; i++)
      expect(
        (await attempt(acct.adminEmail, "wrong wrong wrong", `${prefix}::${i + 1}`)).status,
      ).toBe(401);
    for (let i = 0; i < 5; i++)
      expect(
        (await attempt(acct.adminEmail, "wrong wrong wrong", `${prefix}:0:0:0:a${i}`)).status,
      ).toBe(401);
    const counter = await row<{ failures: number }>(
      "SELECT failures FROM login_throttle WHERE key = ?",
      `pair:${acct.adminEmail}|${prefix}::/64`,
    );
    expect(counter?.failures).toBe(10);
    expectProblem(
      await attempt(acct.adminEmail, PASSWORD, `${prefix}::beef`),
      429,
      "too_many_attempts",
    );
    // Another /64 is another client.
    expect((await attempt(acct.adminEmail, PASSWORD, `${prefix}1::1`)).status).toBe(200);
  });
});

// ---- refresh --------------------------------------------------------------------------

describe("POST /v1/auth/refresh", () => {
  it("rotates the pair; reusing an old refresh token revokes the whole session", async () => {
    const acct = await createAccount();
    const first = await login(acct.adminEmail, PASSWORD, freshIp());
    const sid = await sessionIdOf(first.access_token);

    const rotated = await refresh(first.refresh_token);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: "Bearer",
      expires_in: 900,
    });
    expect(rotated.body.refresh_token).not.toBe(first.refresh_token);
    expect(await sessionIdOf(rotated.body.access_token)).toBe(sid);

    const chain = await rows(
      "SELECT id, token_hash, replaced_by FROM refresh_tokens WHERE session_id = ? ORDER BY created_at, id",
      sid,
    );
    expect(chain).toHaveLength(2);
    const byHash = new Map(chain.map((t) => [t.token_hash, t]));
    const oldToken = byHash.get(await sha256Hex(first.refresh_token))!;
    const newToken = byHash.get(await sha256Hex(rotated.body.refresh_token))!;
    expect(oldToken.replaced_by).toBe(newToken.id);
    expect(newToken.replaced_by).toBeNull();

    const refreshed = await events("auth.token_refreshed", acct.adminId);
    expect(refreshed).toHaveLength(1);
    expect(refreshed[0]).toMatchObject({
      actor_type: "user",
      actor_id: acct.adminId,
      method: "password",
    });

    // Reuse of the replaced token: 401, and the session is over.
    expectProblem(await refresh(first.refresh_token), 401, "invalid_refresh_token");
    expect((await row("SELECT revoked_at FROM sessions WHERE id = ?", sid))?.revoked_at).toEqual(
      expect.any(Number),
    );
    expectProblem(
      await call("GET", "/v1/me", { token: rotated.body.access_token }),
      401,
      "unauthorized",
    );
    expectProblem(await call("GET", "/v1/me", { token: first.access_token }), 401, "unauthorized");
    expectProblem(await refresh(rotated.body.refresh_token), 401, "invalid_refresh_token");
    // Other sessions of the same user are untouched.
    expect((await call("GET", "/v1/me", { token: acct.token })).status).toBe(200);
  });

  it("rejects garbage and malformed refresh requests", async () => {
    expectProblem(await refresh("not-a-real-refresh-token"), 401, "invalid_refresh_token");
    expectProblem(await call("POST", "/v1/auth/refresh", { body: {} }), 422, "validation_failed");
  });

  it("lets at most one of ten concurrent refreshes with the same token win, and ends the session", async () => {
    const acct = await createAccount();
    // How requests interleave is up to the runtime, so the race is run a few times.
    for (let round = 0; round < 5; round++) {
      const session = await login(acct.adminEmail, PASSWORD, freshIp());
      const sid = await sessionIdOf(session.access_token);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => refresh(session.refresh_token)),
      );
      const winners = results.filter((r) => r.status === 200);
      expect(winners.length).toBeLessThanOrEqual(1);
      for (const r of results.filter((x) => x.status !== 200))
        expectProblem(r, 401, "invalid_refresh_token");

      expect((await row("SELECT revoked_at FROM sessions WHERE id = ?", sid))?.revoked_at).toEqual(
        expect.any(Number),
      );
      const tokens = await rows("SELECT replaced_by FROM refresh_tokens WHERE session_id = ?", sid);
      expect(tokens).toHaveLength(1 + winners.length);
      for (const w of winners) {
        expectProblem(await refresh(w.body.refresh_token), 401, "invalid_refresh_token");
        expectProblem(
          await call("GET", "/v1/me", { token: w.body.access_token }),
          401,
          "unauthorized",
        );
      }
    }
  });
});

// ---- session lifetime ------------------------------------------------------------------

const DAY = 24 * 60 * MINUTE;

describe("session lifetime", () => {
  it("records use at login and on every refresh; a week without use ends the session", async () => {
    const acct = await createAccount();
    const session = await login(acct.adminEmail, PASSWORD, freshIp());
    const sid = await sessionIdOf(session.access_token);
    const stored = await row("SELECT created_at, last_used_at FROM sessions WHERE id = ?", sid);
    expect(stored?.last_used_at).toBe(stored?.created_at);

    // Used after six days: the idle limit counts from that use, not from the login.
    clock.offsetMs = 6 * DAY;
    const used = await refresh(session.refresh_token);
    expect(used.status).toBe(200);
    const touched = await row<{ last_used_at: number }>(
      "SELECT last_used_at FROM sessions WHERE id = ?",
      sid,
    );
    expect(touched!.last_used_at).toBeGreaterThanOrEqual(stored!.created_at + 6 * DAY);
    clock.offsetMs = 12 * DAY;
    const again = await refresh(used.body.refresh_token);
    expect(again.status).toBe(200);

    // Then seven days and a second without use.
    clock.offsetMs = 19 * DAY + 1_000;
    expectProblem(await refresh(again.body.refresh_token), 401, "invalid_refresh_token");
    // Nothing was changed by the refused refresh.
    expect(
      await rows("SELECT id FROM refresh_tokens WHERE session_id = ? AND replaced_by IS NULL", sid),
    ).toHaveLength(1);
  });

  it("ends a session 30 days after login however often it is used", async () => {
    const acct = await createAccount();
    let tokens = await login(acct.adminEmail, PASSWORD, freshIp());
    for (const day of [6, 12, 18, 24, 29]) {
      clock.offsetMs = day * DAY;
      const res = await refresh(tokens.refresh_token);
      expect(res.status, `day ${day}`).toBe(200);
      tokens = { ...tokens, ...res.body };
    }
    clock.offsetMs = 30 * DAY + 1_000;
    expectProblem(await refresh(tokens.refresh_token), 401, "invalid_refresh_token");
  });

  it("an idle session stops authenticating, even with an unexpired access token", async () => {
    const acct = await createAccount();
    const session = await login(acct.adminEmail, PASSWORD, freshIp());
    const sid = await sessionIdOf(session.access_token);
    await env.DB.prepare("UPDATE sessions SET last_used_at = ? WHERE id = ?")
      .bind(Date.now() - 7 * DAY - 1_000, sid)
      .run();
    expectProblem(
      await call("GET", "/v1/me", { token: session.access_token }),
      401,
      "unauthorized",
    );
    expectProblem(await refresh(session.refresh_token), 401, "invalid_refresh_token");
  });
});

// ---- logout ---------------------------------------------------------------------------

describe("POST /v1/auth/logout", () => {
  it("ends the session at once: access and refresh token dead, event recorded", async () => {
    const acct = await createAccount();
    const session = await login(acct.adminEmail, PASSWORD, freshIp());
    const sid = await sessionIdOf(session.access_token);

    const out = await call("POST", "/v1/auth/logout", { token: session.access_token });
    expect(out.status).toBe(204);
    expect(out.body).toBeNull();
    expectProblem(
      await call("GET", "/v1/me", { token: session.access_token }),
      401,
      "unauthorized",
    );
    expectProblem(await refresh(session.refresh_token), 401, "invalid_refresh_token");
    expectProblem(
      await call("POST", "/v1/auth/logout", { token: session.access_token }),
      401,
      "unauthorized",
    );
    expect((await row("SELECT revoked_at FROM sessions WHERE id = ?", sid))?.revoked_at).toEqual(
      expect.any(Number),
    );

    const logouts = await events("auth.logout", acct.adminId);
    expect(logouts).toHaveLength(1);
    expect(logouts[0]).toMatchObject({ actor_id: acct.adminId, method: "password" });
    // Only that session ended.
    expect((await call("GET", "/v1/me", { token: acct.token })).status).toBe(200);
  });

  it("requires a bearer token", async () => {
    expectProblem(await call("POST", "/v1/auth/logout"), 401, "unauthorized");
  });
});

// ---- disabled users -------------------------------------------------------------------

describe("disabled users", () => {
  it("lose their session on the next request and cannot log in", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    expect((await call("GET", "/v1/me", { token: user.token })).status).toBe(200);

    const patched = await call("PATCH", `/v1/users/${user.id}`, {
      token: acct.token,
      body: { status: "disabled" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe("disabled");
    expect((await row("SELECT status FROM users WHERE id = ?", user.id))?.status).toBe("disabled");
    expect(
      await rows("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", user.id),
    ).toEqual([]);

    expectProblem(await call("GET", "/v1/me", { token: user.token }), 401, "unauthorized");
    expectProblem(await refresh(user.refreshToken), 401, "invalid_refresh_token");
    const ip = freshIp();
    expectProblem(await attempt(user.email, PASSWORD, ip), 403, "user_disabled");
    expectProblem(
      await attempt(user.email, "definitely the wrong password", ip),
      401,
      "invalid_credentials",
    );
  });
});

// ---- must_change_password gate ---------------------------------------------------------

describe("must_change_password", () => {
  it("gates everything but /v1/me, /v1/me/password and logout until the password is changed", async () => {
    const acct = await createAccount();
    const user = await addUser(acct, {
      must_change_password: true,
      group_ids: [acct.administratorsId],
    });
    const current = await login(user.email, PASSWORD, freshIp());
    expect(current.must_change_password).toBe(true);
    expect(current.user.must_change_password).toBe(true);
    const other = await login(user.email, PASSWORD, freshIp());
    const spare = await login(user.email, PASSWORD, freshIp());

    for (const path of [
      "/v1/users",
      "/v1/groups",
      "/v1/account",
      "/v1/api-tokens",
      `/v1/users/${user.id}`,
    ]) {
      expectProblem(
        await call("GET", path, { token: current.access_token }),
        403,
        "password_change_required",
      );
    }
    expectProblem(
      await call("POST", "/v1/groups", {
        token: current.access_token,
        body: { name: "x", grants: [] },
      }),
      403,
      "password_change_required",
    );
    const me = await call("GET", "/v1/me", { token: current.access_token });
    expect(me.status).toBe(200);
    expect(me.body.must_change_password).toBe(true);
    // Logout works while gated.
    expect((await call("POST", "/v1/auth/logout", { token: spare.access_token })).status).toBe(204);

    const changed = await call("POST", "/v1/me/password", {
      token: current.access_token,
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
    });
    expect(changed.status).toBe(204);
    expect(
      (await row("SELECT must_change_password FROM users WHERE id = ?", user.id))
        ?.must_change_password,
    ).toBe(0);

    // The current session survives and is no longer gated; the other one is over.
    const users = await call("GET", "/v1/users", { token: current.access_token });
    expect(users.status).toBe(200);
    expect(
      (await call("GET", "/v1/me", { token: current.access_token })).body.must_change_password,
    ).toBe(false);
    expectProblem(await call("GET", "/v1/me", { token: other.access_token }), 401, "unauthorized");
    expectProblem(await refresh(other.refresh_token), 401, "invalid_refresh_token");
    expect((await refresh(current.refresh_token)).status).toBe(200);
    const live = await rows(
      "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL",
      user.id,
    );
    expect(live.map((s) => s.id)).toEqual([await sessionIdOf(current.access_token)]);

    const changedEvents = await events("user.password_changed", user.id);
    expect(changedEvents).toHaveLength(1);
    expect(changedEvents[0]).toMatchObject({ actor_id: user.id, method: "password" });

    // The new password logs in; the old one does not.
    const ip = freshIp();
    expectProblem(await attempt(user.email, PASSWORD, ip), 401, "invalid_credentials");
    const relogin = await attempt(user.email, NEW_PASSWORD, ip);
    expect(relogin.status).toBe(200);
    expect(relogin.body.must_change_password).toBe(false);
  });
});

// ---- POST /v1/me/password errors --------------------------------------------------------

describe("POST /v1/me/password", () => {
  it("rejects a wrong current password, weak new passwords and unknown fields, changing nothing", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const change = (body: unknown) => call("POST", "/v1/me/password", { token: user.token, body });
    const hashBefore = (await row("SELECT password_hash FROM users WHERE id = ?", user.id))
      ?.password_hash;

    const wrong = await change({
      current_password: "this is not my password",
      new_password: NEW_PASSWORD,
    });
    expectProblem(wrong, 422, "invalid_current_password");
    expect(wrong.body.errors).toContainEqual(
      expect.objectContaining({ path: "current_password", code: "invalid_current_password" }),
    );

    const short = await change({ current_password: PASSWORD, new_password: "short pass 1" });
    expectProblem(short, 422, "weak_password");
    expect(short.body.errors).toContainEqual(
      expect.objectContaining({ path: "new_password", code: "weak_password" }),
    );

    const fromEmail = await change({ current_password: PASSWORD, new_password: `${user.email}!!` });
    expectProblem(fromEmail, 422, "weak_password");
    expect(fromEmail.body.errors).toContainEqual(
      expect.objectContaining({ path: "new_password", code: "weak_password" }),
    );

    expectProblem(
      await change({ current_password: PASSWORD, new_password: PASSWORD }),
      422,
      "weak_password",
    );

    const extra = await change({
      current_password: PASSWORD,
      new_password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expectProblem(extra, 422, "validation_failed");
    expect(extra.body.errors).toContainEqual(
      expect.objectContaining({ path: "confirm", code: "unknown_field" }),
    );

    expect(
      (await row("SELECT password_hash FROM users WHERE id = ?", user.id))?.password_hash,
    ).toBe(hashBefore);
    expect(await events("user.password_changed", user.id)).toEqual([]);
    expect((await call("GET", "/v1/me", { token: user.token })).status).toBe(200);
  });
});

// ---- bearer tokens ---------------------------------------------------------------------

describe("bearer authentication", () => {
  it("answers 401 unauthorized for a missing, malformed, tampered or expired token", async () => {
    const acct = await createAccount();
    expectProblem(await call("GET", "/v1/me"), 401, "unauthorized");
    expectProblem(
      await call("GET", "/v1/me", { headers: { authorization: `Basic ${btoa("a:b")}` } }),
      401,
      "unauthorized",
    );
    expectProblem(await call("GET", "/v1/me", { token: "garbage" }), 401, "unauthorized");
    expectProblem(
      await call("GET", "/v1/users", { token: "eyJhbGciOiJub25lIn0.e30." }),
      401,
      "unauthorized",
    );

    const [header, payload, signature] = acct.token.split(".") as [string, string, string];
    const mid = Math.floor(signature.length / 2);
    const flipped =
      signature.slice(0, mid) + (signature[mid] === "A" ? "B" : "A") + signature.slice(mid + 1);
    expectProblem(
      await call("GET", "/v1/me", { token: `${header}.${payload}.${flipped}` }),
      401,
      "unauthorized",
    );

    expect((await call("GET", "/v1/me", { token: acct.token })).status).toBe(200);
    clock.offsetMs = 16 * MINUTE;
    const expired = await call("GET", "/v1/me", { token: acct.token });
    expectProblem(expired, 401, "unauthorized");
    // A refresh still works after the access token expired (the session lives on).
    const renewed = await refresh(acct.refreshToken);
    expect(renewed.status).toBe(200);
    expect((await call("GET", "/v1/me", { token: renewed.body.access_token })).status).toBe(200);
  });
});

// ---- PATCH /v1/me ----------------------------------------------------------------------

describe("PATCH /v1/me", () => {
  it("changes the caller's names and records user.updated", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const res = await call("PATCH", "/v1/me", {
      token: user.token,
      body: { first_name: "Ada", last_name: " Lovelace " },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: user.id,
      first_name: "Ada",
      last_name: "Lovelace",
      email: user.email,
    });
    expect(await row("SELECT first_name, last_name FROM users WHERE id = ?", user.id)).toEqual({
      first_name: "Ada",
      last_name: "Lovelace",
    });
    expect((await call("GET", "/v1/me", { token: user.token })).body).toMatchObject({
      first_name: "Ada",
      last_name: "Lovelace",
    });

    const updated = await events("user.updated", user.id);
    expect(updated).toHaveLength(1);
    expect(updated[0]).toMatchObject({ actor_type: "user", actor_id: user.id });
    expect(Object.values(JSON.parse(updated[0]!.metadata).changes)).toEqual(["Ada", "Lovelace"]);

    expectProblem(
      await call("PATCH", "/v1/me", { token: user.token, body: { first_name: "" } }),
      422,
      "validation_failed",
    );
    expectProblem(
      await call("PATCH", "/v1/me", { token: user.token, body: { status: "disabled" } }),
      422,
      "validation_failed",
    );
    expect(await row("SELECT first_name, status FROM users WHERE id = ?", user.id)).toEqual({
      first_name: "Ada",
      status: "active",
    });
  });
});

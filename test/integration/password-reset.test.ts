/**
 * Password resets: by an administrator (temporary password or mailed link), self-service through
 * /v1/password/forgot and /reset-password, and the effects of disable and delete.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import { clock } from "../../src/lib/clock";
import {
  call,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  freshIp,
  type Mail,
  newMail,
  outbox,
  PASSWORD,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

const NEW_PASSWORD = "a freshly chosen passphrase 2024";
const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;

afterEach(() => {
  clock.offsetMs = 0;
});

// ---- local helpers --------------------------------------------------------------------

const row = <T = Record<string, any>>(query: string, ...binds: unknown[]) =>
  env.DB.prepare(query)
    .bind(...binds)
    .first<T>();

const credentials = (id: string) =>
  row<{ password_hash: string | null; must_change_password: number }>(
    "SELECT password_hash, must_change_password FROM users WHERE id = ?",
    id,
  );
const liveSessions = (userId: string) =>
  rows("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", userId);
const resetTokens = (userId: string) =>
  rows(
    "SELECT * FROM user_tokens WHERE user_id = ? AND kind = 'password_reset' ORDER BY created_at, rowid",
    userId,
  );
const events = (type: string, subjectId: string) =>
  rows(
    "SELECT * FROM activity_events WHERE type = ? AND subject_id = ? ORDER BY occurred_at, rowid",
    type,
    subjectId,
  );

const attempt = (email: string, password: string) =>
  call("POST", "/v1/auth/login", { body: { email, password }, ip: freshIp() });
async function login(email: string, password = PASSWORD) {
  const res = await attempt(email, password);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { access_token: string; refresh_token: string; must_change_password: boolean };
}
const refresh = (refreshToken: string) =>
  call("POST", "/v1/auth/refresh", { body: { refresh_token: refreshToken } });

const resetPrefix = () => `${env.APP_URL.replace(/\/$/, "")}/reset-password?token=`;
function resetToken(mail: Mail): string {
  const at = mail.text.indexOf(resetPrefix());
  expect(at).toBeGreaterThanOrEqual(0);
  return decodeURIComponent(/^[^\s"'<>&]+/.exec(mail.text.slice(at + resetPrefix().length))![0]);
}

/** POST /v1/password/forgot through the Worker's fetch handler, waiting for its after-response work (the mail). */
async function forgot(email: string, ip = freshIp()) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request("http://api.test/v1/password/forgot", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": ip },
      body: JSON.stringify({ email }),
    }),
    env as unknown as Bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text), headers: res.headers };
}
/** Asks for a reset link and returns its token from the mail. */
async function forgotToken(email: string) {
  const before = await outbox(email);
  expect((await forgot(email)).status).toBe(202);
  const mail = await newMail(email, before);
  expect(mail.subject).toBe("Reset your password");
  return resetToken(mail);
}
const reset = (token: string, new_password: string) =>
  call("POST", "/v1/password/reset", { body: { token, new_password } });
const page = (token: string) =>
  call<string>("GET", `/reset-password?token=${encodeURIComponent(token)}`);
const postPage = (token: string, new_password: string) =>
  call<string>("POST", "/reset-password", {
    raw: new URLSearchParams({ token, new_password }),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
const adminReset = (acct: { token: string }, userId: string, body?: unknown) =>
  call("POST", `/v1/users/${userId}/password-reset`, {
    token: acct.token,
    ...(body !== undefined ? { body } : {}),
  });

/** A user with two login sessions. */
async function userWithSessions(acct: TestAccount, groupIds?: string[]) {
  const user = await createUser(acct, groupIds ? { groupIds } : {});
  const second = await login(user.email);
  return {
    ...user,
    sessions: [
      { access: user.token, refresh: user.refreshToken },
      { access: second.access_token, refresh: second.refresh_token },
    ],
  };
}
/** Every session of the user ended: D1 says so, access tokens are 401, refresh tokens are 401. */
async function expectAllSessionsEnded(user: Awaited<ReturnType<typeof userWithSessions>>) {
  expect(await liveSessions(user.id)).toEqual([]);
  for (const s of user.sessions) {
    expectProblem(await call("GET", "/v1/me", { token: s.access }), 401, "unauthorized");
    expectProblem(await refresh(s.refresh), 401, "invalid_refresh_token");
  }
}

// ---- admin-initiated ------------------------------------------------------------------

describe("POST /v1/users/:id/password-reset (temporary password)", () => {
  it("returns a temporary password once, replaces the hash, sets must_change_password, ends every session at once", async () => {
    const acct = await createAccount();
    const user = await userWithSessions(acct);
    const before = await credentials(user.id);
    expect(before?.must_change_password).toBe(0);

    const res = await adminReset(acct, user.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      method: "temporary_password",
      temporary_password: expect.any(String),
      must_change_password: true,
    });
    const temporary: string = res.body.temporary_password;
    expect(temporary.replace(/-/g, "").length).toBeGreaterThanOrEqual(15);

    const after = await credentials(user.id);
    expect(after?.must_change_password).toBe(1);
    expect(after?.password_hash).not.toBe(before?.password_hash);
    expect(after?.password_hash).not.toContain(temporary);
    await expectAllSessionsEnded(user);

    // Shown once: never again in the user, nor in the event.
    const shown = await call("GET", `/v1/users/${user.id}`, { token: acct.token });
    expect(shown.body.must_change_password).toBe(true);
    expect(JSON.stringify(shown.body)).not.toContain(temporary);
    const recorded = await events("user.password_reset", user.id);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      actor_type: "user",
      actor_id: acct.adminId,
      account_id: acct.accountId,
    });
    expect(JSON.parse(recorded[0]!.metadata)).toMatchObject({ method: "temporary_password" });
    expect(JSON.stringify(recorded[0])).not.toContain(temporary);

    expectProblem(await attempt(user.email, PASSWORD), 401, "invalid_credentials");
    const fresh = await login(user.email, temporary);
    expect(fresh.must_change_password).toBe(true);
    // A second reset gives another password; the first stops working.
    const again = await adminReset(acct, user.id, { method: "temporary_password" });
    expect(again.body.temporary_password).not.toBe(temporary);
    expectProblem(await attempt(user.email, temporary), 401, "invalid_credentials");
    expectProblem(await call("GET", "/v1/me", { token: fresh.access_token }), 401, "unauthorized");
  });

  it("holds the user at the password_change_required gate until POST /v1/me/password", async () => {
    const acct = await createAccount();
    const user = await createUser(acct, { groupIds: [acct.administratorsId] });
    const bystander = await createUser(acct);
    const temporary = (await adminReset(acct, user.id)).body.temporary_password as string;
    const gated = await login(user.email, temporary);
    const spare = await login(user.email, temporary);
    expect(gated.must_change_password).toBe(true);
    const as = { token: gated.access_token };

    const blocked: [string, string, unknown?][] = [
      ["GET", "/v1/users"],
      ["GET", `/v1/users/${bystander.id}`],
      ["GET", "/v1/groups"],
      ["GET", "/v1/account"],
      ["GET", "/v1/activity"],
      ["GET", "/v1/api-tokens"],
      ["POST", "/v1/invitations", { email: uniqueEmail("gated-invite") }],
      ["PATCH", `/v1/users/${bystander.id}`, { first_name: "Gated" }],
      ["POST", `/v1/users/${bystander.id}/password-reset`],
      ["DELETE", `/v1/users/${bystander.id}`],
      ["POST", "/v1/groups", { name: "Gated group", grants: [] }],
    ];
    for (const [method, path, body] of blocked) {
      expectProblem(
        await call(method, path, { ...as, ...(body !== undefined ? { body } : {}) }),
        403,
        "password_change_required",
      );
    }
    // The blocked writes wrote nothing.
    expect(await row("SELECT first_name FROM users WHERE id = ?", bystander.id)).toEqual({
      first_name: "Test",
    });
    expect(await rows("SELECT id FROM invitations WHERE account_id = ?", acct.accountId)).toEqual(
      [],
    );
    expect(
      await rows(
        "SELECT id FROM groups WHERE account_id = ? AND name = 'Gated group'",
        acct.accountId,
      ),
    ).toEqual([]);
    expect((await call("GET", "/v1/me", { token: bystander.token })).status).toBe(200);

    // The allowed three (GET and PATCH /v1/me, logout, and the password change below).
    const me = await call("GET", "/v1/me", as);
    expect(me.status).toBe(200);
    expect(me.body.must_change_password).toBe(true);
    const renamed = await call("PATCH", "/v1/me", { ...as, body: { first_name: "Still" } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.first_name).toBe("Still");
    expect((await call("POST", "/v1/auth/logout", { token: spare.access_token })).status).toBe(204);
    expectProblem(await call("GET", "/v1/me", { token: spare.access_token }), 401, "unauthorized");

    expectProblem(
      await call("POST", "/v1/me/password", {
        ...as,
        body: { current_password: temporary, new_password: "short" },
      }),
      422,
      "weak_password",
    );
    expectProblem(await call("GET", "/v1/users", as), 403, "password_change_required");
    const changed = await call("POST", "/v1/me/password", {
      ...as,
      body: { current_password: temporary, new_password: NEW_PASSWORD },
    });
    expect(changed.status).toBe(204);
    expect((await credentials(user.id))?.must_change_password).toBe(0);

    // The gate lifts on the same session.
    expect((await call("GET", "/v1/users", as)).status).toBe(200);
    expect((await call("GET", "/v1/groups", as)).status).toBe(200);
    expect((await call("GET", "/v1/me", as)).body.must_change_password).toBe(false);
    expectProblem(await attempt(user.email, temporary), 401, "invalid_credentials");
    expect((await login(user.email, NEW_PASSWORD)).must_change_password).toBe(false);
  });
});

describe("POST /v1/users/:id/password-reset (email)", () => {
  it("answers 202, mails a one-hour /reset-password link and ends every session at once", async () => {
    const acct = await createAccount();
    const user = await userWithSessions(acct);
    const before = await outbox(user.email);
    const hash = (await credentials(user.id))?.password_hash;

    const res = await adminReset(acct, user.id, { method: "email" });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      method: "email",
      email_delivery: "outbox",
      expires_at: expect.any(String),
    });
    await expectAllSessionsEnded(user);
    expect(await credentials(user.id)).toEqual({ password_hash: hash, must_change_password: 0 });

    const [stored, ...others] = await resetTokens(user.id);
    expect(others).toEqual([]);
    expect(stored!.expires_at - stored!.created_at).toBe(HOUR);
    expect(new Date(res.body.expires_at).getTime()).toBe(stored!.expires_at);
    const [recorded] = await events("user.password_reset", user.id);
    expect(recorded).toMatchObject({ actor_type: "user", actor_id: acct.adminId });
    expect(JSON.parse(recorded!.metadata)).toMatchObject({ method: "email" });

    const token = resetToken(await newMail(user.email, before));
    expect(await reset(token, NEW_PASSWORD)).toMatchObject({ status: 204, body: null });
    expect((await login(user.email, NEW_PASSWORD)).must_change_password).toBe(false);
    expectProblem(await attempt(user.email, PASSWORD), 401, "invalid_credentials");
  });

  it("requires users:reset_password, and only within the caller's authority", async () => {
    const acct = await createAccount();
    const editors = await createGroup(acct, [
      { permission: "users:read" },
      { permission: "users:write" },
    ]);
    const helpdesk = await createGroup(acct, [
      { permission: "users:read" },
      { permission: "users:reset_password" },
    ]);
    const editor = await createUser(acct, { groupIds: [editors, acct.membersId] });
    const helper = await createUser(acct, { groupIds: [helpdesk, acct.membersId] });
    const member = await createUser(acct);
    const memberHash = (await credentials(member.id))?.password_hash;

    expectProblem(await adminReset(member, editor.id), 403, "forbidden");
    expectProblem(await adminReset(editor, member.id), 403, "forbidden");
    expectProblem(await adminReset(editor, member.id, { method: "email" }), 403, "forbidden");
    expect((await credentials(member.id))?.password_hash).toBe(memberHash);
    expect(await liveSessions(member.id)).toHaveLength(1);

    // The helpdesk may reset a member, but not an administrator.
    expect((await adminReset(helper, member.id)).status).toBe(200);
    const adminHash = (await credentials(acct.adminId))?.password_hash;
    expectProblem(await adminReset(helper, acct.adminId), 403, "permission_not_held");
    expectProblem(
      await adminReset(helper, acct.adminId, { method: "email" }),
      403,
      "permission_not_held",
    );
    expect(await credentials(acct.adminId)).toEqual({
      password_hash: adminHash,
      must_change_password: 0,
    });
    expect((await call("GET", "/v1/me", { token: acct.token })).status).toBe(200);
    expect(await resetTokens(acct.adminId)).toEqual([]);
    expect(await events("user.password_reset", acct.adminId)).toEqual([]);

    expectProblem(await adminReset(acct, "usr_nosuchuser"), 404, "not_found");
    expectProblem(await adminReset(acct, member.id, { method: "sms" }), 422, "validation_failed");
  });
});

// ---- self-service ---------------------------------------------------------------------

describe("POST /v1/password/forgot", () => {
  it("answers known and unknown emails identically; mails only the known one", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const unknown = uniqueEmail("nobody");
    const before = await outbox(user.email);

    const known = await forgot(user.email.toUpperCase());
    const stranger = await forgot(unknown);
    expect(known.status).toBe(202);
    expect(stranger.status).toBe(202);
    expect(known.text).toBe(stranger.text);
    expect(known.body).toEqual({ status: "accepted" });
    expect(known.headers.get("content-type")).toBe(stranger.headers.get("content-type"));

    const mail = await newMail(user.email, before);
    expect(mail.text).toContain(resetPrefix());
    expect(await outbox(unknown)).toEqual([]);
    expect(await resetTokens(user.id)).toHaveLength(1);
    const [requested] = await events("user.password_reset_requested", user.id);
    expect(requested).toMatchObject({ actor_type: "anonymous", actor_id: null });
    // Asking changes nothing by itself: the password and sessions stay.
    expect((await call("GET", "/v1/me", { token: user.token })).status).toBe(200);
    expect((await attempt(user.email, PASSWORD)).status).toBe(200);
  });

  it("tells an SSO-only user to use their identity provider, with no link", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    await env.DB.prepare("UPDATE users SET password_hash = NULL WHERE id = ?").bind(user.id).run();
    const before = await outbox(user.email);

    const res = await forgot(user.email);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: "accepted" });
    const mail = await newMail(user.email, before);
    expect(mail.text).toContain("identity provider");
    expect(mail.text).not.toContain("/reset-password");
    expect(await resetTokens(user.id)).toEqual([]);
  });

  it("throttles per email: the 6th request within an hour is 429 with Retry-After, known or not", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const unknown = uniqueEmail("nobody");
    const before = await outbox(user.email);
    for (const email of [user.email, unknown]) {
      for (let i = 0; i < 5; i++) expect((await forgot(email)).status).toBe(202);
      const refused = await forgot(email);
      expect({ status: refused.status, code: refused.body.code }).toEqual({
        status: 429,
        code: "too_many_attempts",
      });
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
    }
    // Five mails, of which only the newest link is live.
    expect((await outbox(user.email)).length - before.length).toBe(5);
    const tokens = await resetTokens(user.id);
    expect(tokens).toHaveLength(5);
    expect(tokens.filter((t) => t.superseded_at === null)).toHaveLength(1);

    clock.offsetMs = HOUR + MINUTE;
    expect((await forgot(user.email)).status).toBe(202);
    expect((await outbox(user.email)).length - before.length).toBe(6);
  });

  it("throttles per source address too: the 31st request from one address within an hour is 429", async () => {
    const ip = freshIp();
    for (let i = 0; i < 30; i++) expect((await forgot(uniqueEmail("spray"), ip)).status).toBe(202);
    const refused = await forgot(uniqueEmail("spray"), ip);
    expect({ status: refused.status, code: refused.body.code }).toEqual({
      status: 429,
      code: "too_many_attempts",
    });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await forgot(uniqueEmail("spray"))).status).toBe(202);
  });

  it("counts an IPv6 client by its /64: addresses in one /64 share the per-address limit", async () => {
    const prefix = `2001:db8:${(Date.now() % 65535).toString(16)}:42`;
    for (let i = 0; i < 30; i++) {
      const res = await forgot(uniqueEmail("spray6"), `${prefix}::${(i + 1).toString(16)}`);
      expect(res.status).toBe(202);
    }
    const refused = await forgot(uniqueEmail("spray6"), `${prefix}:ffff:ffff:ffff:ffff`);
    expect({ status: refused.status, code: refused.body.code }).toEqual({
      status: 429,
      code: "too_many_attempts",
    });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await forgot(uniqueEmail("spray6"), `${prefix}1::1`)).status).toBe(202);
  });
});

describe("POST /v1/password/reset", () => {
  it("sets the password, ends every session and refresh token, and works once", async () => {
    const acct = await createAccount();
    const user = await userWithSessions(acct);
    const token = await forgotToken(user.email);
    const before = await credentials(user.id);

    const res = await reset(token, NEW_PASSWORD);
    expect({ status: res.status, body: res.body }).toEqual({ status: 204, body: null });
    const after = await credentials(user.id);
    expect(after?.password_hash).not.toBe(before?.password_hash);
    expect(after?.must_change_password).toBe(0);
    expect((await resetTokens(user.id))[0]!.used_at).toEqual(expect.any(Number));
    await expectAllSessionsEnded(user);
    const [recorded] = await events("user.password_reset", user.id);
    expect(recorded).toMatchObject({ actor_type: "user", actor_id: user.id });
    expect(JSON.parse(recorded!.metadata)).toEqual({ method: "self_service" });

    expectProblem(await attempt(user.email, PASSWORD), 401, "invalid_credentials");
    const fresh = await login(user.email, NEW_PASSWORD);

    expectProblem(await reset(token, "yet another passphrase for this"), 404, "token_invalid");
    expect(await credentials(user.id)).toEqual(after);
    expect((await call("GET", "/v1/me", { token: fresh.access_token })).status).toBe(200);
  });

  it("expires after one hour with 410 token_expired, changing nothing", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const token = await forgotToken(user.email);
    const before = await credentials(user.id);

    clock.offsetMs = HOUR - MINUTE;
    expect((await page(token)).status).toBe(200);
    clock.offsetMs = HOUR + MINUTE;
    expectProblem(await reset(token, NEW_PASSWORD), 410, "token_expired");
    const shown = await page(token);
    expect(shown.status).toBe(410);
    expect(shown.body).toContain("This link has expired");
    expect(await credentials(user.id)).toEqual(before);
    expect((await resetTokens(user.id))[0]!.used_at).toBeNull();
    expect((await attempt(user.email, PASSWORD)).status).toBe(200);
  });

  it("a newer request supersedes the older link, and so does an admin's temporary password", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const older = await forgotToken(user.email);
    const newer = await forgotToken(user.email);
    expectProblem(await reset(older, NEW_PASSWORD), 404, "token_invalid");
    expect((await attempt(user.email, PASSWORD)).status).toBe(200);

    const pending = await forgotToken(user.email);
    expect((await adminReset(acct, user.id)).status).toBe(200);
    expectProblem(await reset(newer, NEW_PASSWORD), 404, "token_invalid");
    expectProblem(await reset(pending, NEW_PASSWORD), 404, "token_invalid");
    expect(
      (await resetTokens(user.id)).every((t) => t.used_at === null && t.superseded_at !== null),
    ).toBe(true);
    expectProblem(
      await call("POST", "/v1/email-verification/confirm", { body: { token: pending } }),
      404,
      "token_invalid",
    );
  });

  it("refuses a weak password with 422 weak_password and changes nothing; the link still works", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const token = await forgotToken(user.email);
    const before = await credentials(user.id);

    for (const weak of ["short", user.email, "password".repeat(2)]) {
      const res = await reset(token, weak);
      expectProblem(res, 422, "weak_password");
      expect(res.body.errors).toContainEqual(
        expect.objectContaining({ path: "new_password", code: "weak_password" }),
      );
    }
    expect(await credentials(user.id)).toEqual(before);
    expect((await resetTokens(user.id))[0]!.used_at).toBeNull();
    expect(await liveSessions(user.id)).toHaveLength(1);
    expect(await events("user.password_reset", user.id)).toEqual([]);

    expect((await reset(token, NEW_PASSWORD)).status).toBe(204);
    expectProblem(await reset("not-a-token", NEW_PASSWORD), 404, "token_invalid");
    expectProblem(
      await call("POST", "/v1/password/reset", { body: { token } }),
      422,
      "validation_failed",
    );
  });
});

describe("GET/POST /reset-password", () => {
  it("shows the form; a weak password is shown inline (422, aria-invalid); a good one succeeds", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const token = await forgotToken(user.email);
    const before = await credentials(user.id);

    const shown = await page(token);
    expect(shown.status).toBe(200);
    expect(shown.headers.get("content-type")).toContain("text/html");
    expect(shown.body).toContain(user.email);
    expect(shown.body).toContain('<form method="post" action="/reset-password"');
    expect(shown.body).toContain(`name="token" value="${token}"`);
    expect(shown.body).toMatch(/<input id="new_password" name="new_password" type="password"/);
    expect(shown.body).not.toContain('aria-invalid="true"');

    const weak = await postPage(token, "short");
    expect(weak.status).toBe(422);
    expect(weak.body).toContain('aria-invalid="true"');
    expect(weak.body).toContain('role="alert"');
    expect(weak.body).toContain('id="new_password-error"');
    expect(weak.body).toContain("at least 15 characters");
    expect(await credentials(user.id)).toEqual(before);
    expect((await resetTokens(user.id))[0]!.used_at).toBeNull();
    expect(await liveSessions(user.id)).toHaveLength(1);

    const done = await postPage(token, NEW_PASSWORD);
    expect(done.status).toBe(200);
    expect(done.body).toContain("Password changed");
    expect((await credentials(user.id))?.password_hash).not.toBe(before?.password_hash);
    expect(await liveSessions(user.id)).toEqual([]);
    expect((await login(user.email, NEW_PASSWORD)).must_change_password).toBe(false);

    const again = await postPage(token, "another fine passphrase here");
    expect(again.status).toBe(404);
    expect(again.body).toContain("This link is not valid");
    expect((await page(token)).status).toBe(404);
    expect((await page("garbage")).status).toBe(404);
  });
});

// ---- disable, enable, delete ----------------------------------------------------------

describe("disable and delete", () => {
  async function withApiToken(acct: TestAccount) {
    const user = await userWithSessions(acct, [acct.administratorsId]);
    const created = await call("POST", "/v1/api-tokens", {
      token: user.token,
      body: { name: "ci", permissions: ["users:read"] },
    });
    expect(created.status).toBe(201);
    expect((await call("GET", "/v1/users", { token: created.body.token })).status).toBe(200);
    return { ...user, apiToken: created.body.token as string };
  }

  it("disabling ends sessions and stops API tokens; the user cannot ask for a reset link", async () => {
    const acct = await createAccount();
    const user = await withApiToken(acct);
    expect(
      (
        await call("PATCH", `/v1/users/${user.id}`, {
          token: acct.token,
          body: { status: "disabled" },
        })
      ).status,
    ).toBe(200);
    await expectAllSessionsEnded(user);
    expectProblem(await call("GET", "/v1/users", { token: user.apiToken }), 401, "unauthorized");
    expect(await events("user.disabled", user.id)).toHaveLength(1);

    const before = await outbox(user.email);
    expect((await forgot(user.email)).status).toBe(202);
    expect(await outbox(user.email)).toEqual(before);
    expect(await resetTokens(user.id)).toEqual([]);
  });

  it("deleting removes memberships, sessions, API tokens and pending links, keeping the activity", async () => {
    const acct = await createAccount();
    const user = await withApiToken(acct);
    const token = await forgotToken(user.email);
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: acct.token })).status).toBe(204);

    for (const table of ["group_memberships", "sessions", "api_tokens", "user_tokens"]) {
      expect(await rows(`SELECT * FROM ${table} WHERE user_id = ?`, user.id), table).toEqual([]);
    }
    expectProblem(await call("GET", "/v1/users", { token: user.apiToken }), 401, "unauthorized");
    expectProblem(await refresh(user.sessions[0]!.refresh), 401, "invalid_refresh_token");
    expectProblem(await reset(token, NEW_PASSWORD), 404, "token_invalid");
    expect(await events("user.deleted", user.id)).toHaveLength(1);
    expect(await events("user.password_reset_requested", user.id)).toHaveLength(1);
  });
});

/**
 * Email change with verification: the new
 * address waits as pending_email, login stays on the current one until the link mailed to
 * the new address is confirmed (API or /verify-email page), uniqueness at request and at
 * confirmation, superseding, expiry, reuse, the notice to the old address, delegation.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  forgotAndReset,
  freshIp,
  type Mail,
  newMail,
  outbox,
  PASSWORD,
  type Reply,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

type Act = (
  acct: TestAccount,
  user: { id: string; email: string; token: string },
) => Promise<Reply>;

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

const userRow = (id: string) =>
  row<{
    email: string;
    pending_email: string | null;
    first_name: string;
    last_name: string;
    email_verified_at: number | null;
  }>(
    "SELECT email, pending_email, first_name, last_name, email_verified_at FROM users WHERE id = ?",
    id,
  );
const tokensOf = (userId: string) =>
  rows(
    "SELECT * FROM user_tokens WHERE user_id = ? AND kind = 'email_verification' ORDER BY created_at, rowid",
    userId,
  );
const events = (type: string, subjectId: string) =>
  rows(
    "SELECT * FROM activity_events WHERE type = ? AND subject_id = ? ORDER BY occurred_at, rowid",
    type,
    subjectId,
  );

async function sha256Hex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const attempt = (email: string, password = PASSWORD) =>
  call("POST", "/v1/auth/login", { body: { email, password }, ip: freshIp() });

/** The token of the /verify-email link in a mail's text part. */
function verifyToken(mail: Mail): string {
  const prefix = `${env.APP_URL.replace(/\/$/, "")}/verify-email?token=`;
  const at = mail.text.indexOf(prefix);
  expect(at).toBeGreaterThanOrEqual(0);
  return decodeURIComponent(/^[^\s"'<>&]+/.exec(mail.text.slice(at + prefix.length))![0]);
}

/** Asks for `email` through PATCH /v1/me (self, with the password) or PATCH /v1/users/:id (admin); returns the answer and the mailed token. */
async function requestChange(
  by: { token: string },
  path: string,
  email: string,
  extra: Record<string, unknown> = {},
) {
  const before = await outbox(email);
  const password = path === "/v1/me" ? { current_password: PASSWORD } : {};
  const res = await call("PATCH", path, {
    token: by.token,
    body: { email, ...password, ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const mail = await newMail(email, before);
  expect(mail.subject).toBe("Confirm your new email address");
  return { res, mail, token: verifyToken(mail) };
}

const confirm = (token: string) =>
  call("POST", "/v1/email-verification/confirm", { body: { token } });
const page = (token: string) =>
  call<string>("GET", `/verify-email?token=${encodeURIComponent(token)}`);
const postPage = (token: string) =>
  call<string>("POST", "/verify-email", {
    raw: new URLSearchParams({ token }),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });

// ---- self-service --------------------------------------------------------------------

describe("PATCH /v1/me with a new email", () => {
  it("keeps the current email for login until confirmation, then only the new one; events and notice", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const newEmail = uniqueEmail("new");
    const oldBefore = await outbox(user.email);

    // Asked in another case: stored normalised.
    const { res, mail, token } = await requestChange(user, "/v1/me", newEmail.toUpperCase());
    expect(res.body).toMatchObject({ id: user.id, email: user.email, pending_email: newEmail });
    expect(mail.to).toBe(newEmail);
    expect(mail.text).toContain(newEmail);
    expect(await userRow(user.id)).toMatchObject({
      email: user.email,
      pending_email: newEmail,
      email_verified_at: null,
    });
    const [stored, ...more] = await tokensOf(user.id);
    expect(more).toEqual([]);
    expect(stored).toMatchObject({
      email: newEmail,
      used_at: null,
      superseded_at: null,
      token_hash: await sha256Hex(token),
      account_id: acct.accountId,
    });
    expect(stored!.expires_at - stored!.created_at).toBe(24 * HOUR);
    const requested = await events("user.email_change_requested", user.id);
    expect(requested).toHaveLength(1);
    expect(requested[0]).toMatchObject({
      actor_type: "user",
      actor_id: user.id,
      account_id: acct.accountId,
    });
    expect(JSON.parse(requested[0]!.metadata)).toEqual({
      from: user.email,
      to: newEmail,
      by: "self",
    });
    // The old address is told at once (with a cancel link); the admin sees the pending address.
    const requestNotice = await newMail(user.email, oldBefore);
    expect(requestNotice.subject).toBe("A change of your sign-in email address was requested");
    const noticed = await outbox(user.email);
    expect((await call("GET", `/v1/users/${user.id}`, { token: acct.token })).body).toMatchObject({
      email: user.email,
      pending_email: newEmail,
    });
    expect((await call("GET", "/v1/me", { token: user.token })).body).toMatchObject({
      email: user.email,
      pending_email: newEmail,
    });

    // Before confirmation: the pending address cannot log in, the current one can.
    expectProblem(await attempt(newEmail), 401, "invalid_credentials");
    expect((await attempt(user.email)).status).toBe(200);

    const confirmed = await confirm(token);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({
      id: user.id,
      email: newEmail,
      pending_email: null,
      group_ids: [acct.membersId],
    });
    const after = await userRow(user.id);
    expect(after).toMatchObject({
      email: newEmail,
      pending_email: null,
      email_verified_at: expect.any(Number),
    });
    expect((await tokensOf(user.id))[0]!.used_at).toEqual(expect.any(Number));
    const changed = await events("user.email_changed", user.id);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ actor_type: "user", actor_id: user.id });
    expect(JSON.parse(changed[0]!.metadata)).toEqual({ from: user.email, to: newEmail });

    // The old address is told, and nothing more goes to the new one.
    const notice = await newMail(user.email, noticed);
    expect(notice.subject).toBe("Your sign-in email address was changed");
    expect(notice.text).toContain(user.email);
    expect(notice.text).toContain(newEmail);
    expect(await outbox(newEmail)).toHaveLength(1);

    // After confirmation: the reverse.
    expectProblem(await attempt(user.email), 401, "invalid_credentials");
    const relogin = await attempt(newEmail);
    expect(relogin.status).toBe(200);
    expect(relogin.body.user).toMatchObject({ id: user.id, email: newEmail, pending_email: null });

    // The link works once.
    expectProblem(await confirm(token), 404, "token_invalid");
    expect(await userRow(user.id)).toEqual(after);
    expect(await events("user.email_changed", user.id)).toHaveLength(1);
  });

  it("a newer request supersedes the older link", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const first = uniqueEmail("first");
    const second = uniqueEmail("second");
    const a = await requestChange(user, "/v1/me", first);
    const b = await requestChange(user, "/v1/me", second);
    expect(b.res.body.pending_email).toBe(second);

    const [older, newer] = await tokensOf(user.id);
    expect(older).toMatchObject({ email: first, superseded_at: expect.any(Number), used_at: null });
    expect(newer).toMatchObject({ email: second, superseded_at: null, used_at: null });
    expectProblem(await confirm(a.token), 404, "token_invalid");
    expect((await page(a.token)).status).toBe(404);
    expect(await userRow(user.id)).toMatchObject({ email: user.email, pending_email: second });

    expect((await confirm(b.token)).status).toBe(200);
    expect((await userRow(user.id))?.email).toBe(second);
    expectProblem(await attempt(first), 401, "invalid_credentials");
    expect((await attempt(second)).status).toBe(200);
    expect(await events("user.email_change_requested", user.id)).toHaveLength(2);
    expect(await events("user.email_changed", user.id)).toHaveLength(1);
  });

  it("asking for the current address again withdraws the pending change", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const { token } = await requestChange(user, "/v1/me", uniqueEmail("withdrawn"));
    const res = await call("PATCH", "/v1/me", {
      token: user.token,
      body: { email: user.email, current_password: PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ email: user.email, pending_email: null });
    expect((await userRow(user.id))?.pending_email).toBeNull();
    expect((await tokensOf(user.id))[0]!.superseded_at).toEqual(expect.any(Number));
    expectProblem(await confirm(token), 404, "token_invalid");
    expect((await userRow(user.id))?.email).toBe(user.email);
  });

  it("an expired link (24 hours) answers 410 token_expired and changes nothing", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const newEmail = uniqueEmail("late");
    const { token } = await requestChange(user, "/v1/me", newEmail);
    const before = await userRow(user.id);

    clock.offsetMs = 24 * HOUR - MINUTE;
    expect((await page(token)).status).toBe(200);
    clock.offsetMs = 24 * HOUR + MINUTE;
    expectProblem(await confirm(token), 410, "token_expired");
    const shown = await page(token);
    expect(shown.status).toBe(410);
    expect(shown.body).toContain("This link has expired");
    expect((await postPage(token)).status).toBe(410);

    expect(await userRow(user.id)).toEqual(before);
    expect((await tokensOf(user.id))[0]!.used_at).toBeNull();
    expect(await events("user.email_changed", user.id)).toEqual([]);
    expectProblem(await attempt(newEmail), 401, "invalid_credentials");
    expect((await attempt(user.email)).status).toBe(200);
  });

  it("confirming an address another user took meanwhile answers 409 email_taken and changes nothing", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const rival = await createUser(acct);
    const wanted = uniqueEmail("wanted");
    const mine = await requestChange(user, "/v1/me", wanted);
    const oldBefore = await outbox(user.email);
    // The rival asks for the same address too; only a pending one, so both requests pass.
    const theirs = await requestChange(rival, "/v1/me", wanted.toUpperCase());
    expect((await confirm(theirs.token)).status).toBe(200);
    expect((await userRow(rival.id))?.email).toBe(wanted);

    const before = await userRow(user.id);
    expectProblem(await confirm(mine.token), 409, "email_taken");
    const shown = await postPage(mine.token);
    expect(shown.status).toBe(409);
    expect(shown.body).toContain("already in use");
    expect(await userRow(user.id)).toEqual(before);
    expect(before).toMatchObject({ email: user.email, pending_email: wanted });
    expect((await tokensOf(user.id))[0]!.used_at).toBeNull();
    expect(await events("user.email_changed", user.id)).toEqual([]);
    expect(await outbox(user.email)).toEqual(oldBefore);
    expect((await userRow(rival.id))?.email).toBe(wanted);
    expect((await attempt(user.email)).status).toBe(200);
    expect((await attempt(wanted)).body.user?.id).toBe(rival.id);

    // An address taken by a manually created user fails the same way.
    const third = uniqueEmail("third");
    const again = await requestChange(user, "/v1/me", third);
    const created = await call("POST", "/v1/users", {
      token: acct.token,
      body: { email: third, first_name: "Th", last_name: "Ird", password: PASSWORD },
    });
    expect(created.status).toBe(201);
    expectProblem(await confirm(again.token), 409, "email_taken");
    expect(await userRow(user.id)).toMatchObject({ email: user.email, pending_email: third });
  });

  it("asking for an address already in use answers 409 email_taken; nothing of the PATCH applies", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const other = await createUser(acct);
    const before = await userRow(user.id);
    const otherBefore = await outbox(other.email);

    const res = await call("PATCH", "/v1/me", {
      token: user.token,
      body: { first_name: "Changed", email: other.email.toUpperCase(), current_password: PASSWORD },
    });
    expectProblem(res, 409, "email_taken");
    const admin = await call("PATCH", `/v1/users/${user.id}`, {
      token: acct.token,
      body: { last_name: "Changed", email: acct.adminEmail },
    });
    expectProblem(admin, 409, "email_taken");

    expect(await userRow(user.id)).toEqual(before);
    expect(await tokensOf(user.id)).toEqual([]);
    expect(await events("user.email_change_requested", user.id)).toEqual([]);
    expect(await events("user.updated", user.id)).toEqual([]);
    expect(await outbox(other.email)).toEqual(otherBefore);
    expect(await outbox(acct.adminEmail)).toEqual([]);
  });

  it("is refused with an API token; nothing changes", async () => {
    const acct = await createAccount();
    const created = await call("POST", "/v1/api-tokens", {
      token: acct.token,
      body: { name: "integration", permissions: ["users:read"] },
    });
    expect(created.status).toBe(201);
    const target = uniqueEmail("via-api-token");
    const res = await call("PATCH", "/v1/me", {
      token: created.body.token,
      body: { email: target, current_password: PASSWORD },
    });
    expectProblem(res, 403, "forbidden");
    expect(await userRow(acct.adminId)).toMatchObject({
      email: acct.adminEmail,
      pending_email: null,
    });
    expect(await tokensOf(acct.adminId)).toEqual([]);
    expect(await outbox(target)).toEqual([]);
  });

  it("rejects malformed confirmations", async () => {
    expectProblem(await confirm("not-a-token"), 404, "token_invalid");
    expectProblem(await confirm("A".repeat(43)), 404, "token_invalid");
    expectProblem(
      await call("POST", "/v1/email-verification/confirm", { body: {} }),
      422,
      "validation_failed",
    );
    expectProblem(
      await call("PATCH", "/v1/me", {
        token: (await createAccount()).token,
        body: { email: "not an email" },
      }),
      422,
      "validation_failed",
    );
  });
});

// ---- by an administrator ------------------------------------------------------------

describe("PATCH /v1/users/:id with a new email", () => {
  it("works like the self-service change, recorded with the admin as actor", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const newEmail = uniqueEmail("adminset");
    const { res, token } = await requestChange(acct, `/v1/users/${user.id}`, newEmail, {
      first_name: "Renamed",
    });
    const oldBefore = await outbox(user.email);
    expect(oldBefore[0]?.subject).toBe("A change of your sign-in email address was requested");
    expect(res.body).toMatchObject({
      id: user.id,
      email: user.email,
      pending_email: newEmail,
      first_name: "Renamed",
    });
    expect(await userRow(user.id)).toMatchObject({
      email: user.email,
      pending_email: newEmail,
      first_name: "Renamed",
    });
    const [requested] = await events("user.email_change_requested", user.id);
    expect(requested).toMatchObject({ actor_type: "user", actor_id: acct.adminId });
    expect(JSON.parse(requested!.metadata)).toEqual({
      from: user.email,
      to: newEmail,
      by: "admin",
    });
    expect(await events("user.updated", user.id)).toHaveLength(1);

    expectProblem(await attempt(newEmail), 401, "invalid_credentials");
    expect((await attempt(user.email)).status).toBe(200);
    expect((await confirm(token)).status).toBe(200);
    expectProblem(await attempt(user.email), 401, "invalid_credentials");
    expect((await attempt(newEmail)).status).toBe(200);
    expect(await events("user.email_changed", user.id)).toHaveLength(1);
    expect((await newMail(user.email, oldBefore)).text).toContain(newEmail);
    expect((await call("GET", `/v1/users/${user.id}`, { token: acct.token })).body).toMatchObject({
      email: newEmail,
      pending_email: null,
    });
  });

  it("changing an administrator's email without holding their permissions is 403 permission_not_held", async () => {
    const acct = await createAccount();
    const editors = await createGroup(acct, [
      { permission: "users:read" },
      { permission: "users:write" },
    ]);
    const editor = await createUser(acct, { groupIds: [editors, acct.membersId] });
    const admin2 = await createUser(acct, { groupIds: [acct.administratorsId] });
    const target = uniqueEmail("takeover");
    const before = await userRow(admin2.id);

    const res = await call("PATCH", `/v1/users/${admin2.id}`, {
      token: editor.token,
      body: { email: target, first_name: "Hijacked" },
    });
    expectProblem(res, 403, "permission_not_held");
    expect(await userRow(admin2.id)).toEqual(before);
    expect(await tokensOf(admin2.id)).toEqual([]);
    expect(await events("user.email_change_requested", admin2.id)).toEqual([]);
    expect(await outbox(target)).toEqual([]);

    // Within the editor's authority (a plain member) the change goes through.
    const member = await createUser(acct);
    await requestChange(editor, `/v1/users/${member.id}`, uniqueEmail("allowed"));
  });
});

// ---- the /verify-email page ---------------------------------------------------------

describe("GET/POST /verify-email", () => {
  it("GET shows the address and a button without changing anything; POST confirms", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const newEmail = uniqueEmail("paged");
    const { token } = await requestChange(user, "/v1/me", newEmail);
    const before = await userRow(user.id);

    for (let i = 0; i < 2; i++) {
      const shown = await page(token);
      expect(shown.status).toBe(200);
      expect(shown.headers.get("content-type")).toContain("text/html");
      expect(shown.body).toContain(newEmail);
      expect(shown.body).toContain(user.email);
      expect(shown.body).toContain('<form method="post" action="/verify-email">');
      expect(shown.body).toContain(`name="token" value="${token}"`);
      expect(shown.body).toMatch(/<button type="submit">[^<]*<\/button>/);
    }
    expect(await userRow(user.id)).toEqual(before);
    expect((await tokensOf(user.id))[0]!.used_at).toBeNull();
    expect(await events("user.email_changed", user.id)).toEqual([]);

    const done = await postPage(token);
    expect(done.status).toBe(200);
    expect(done.body).toContain("Email address confirmed");
    expect(done.body).toContain(newEmail);
    expect(await userRow(user.id)).toMatchObject({ email: newEmail, pending_email: null });
    expect(await events("user.email_changed", user.id)).toHaveLength(1);
    expect((await attempt(newEmail)).status).toBe(200);

    const reused = await postPage(token);
    expect(reused.status).toBe(404);
    expect(reused.body).toContain("This link is not valid");
    expect((await page(token)).status).toBe(404);
    expect((await page("garbage")).status).toBe(404);
    expect(await events("user.email_changed", user.id)).toHaveLength(1);
  });
});

// ---- the current password -------------------------------------------------------------

describe("PATCH /v1/me with a new email needs the current password", () => {
  it("missing is 422 validation_failed on current_password, wrong is 422 invalid_current_password; nothing changes", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const target = uniqueEmail("no-password");
    const before = await userRow(user.id);
    const oldBefore = await outbox(user.email);

    const missing = await call("PATCH", "/v1/me", {
      token: user.token,
      body: { first_name: "Changed", email: target },
    });
    expectProblem(missing, 422, "validation_failed");
    expect(missing.body.errors).toEqual([expect.objectContaining({ path: "current_password" })]);

    const wrong = await call("PATCH", "/v1/me", {
      token: user.token,
      body: { first_name: "Changed", email: target, current_password: "not the password" },
    });
    expectProblem(wrong, 422, "invalid_current_password");
    expect(wrong.body.errors).toEqual([
      expect.objectContaining({ path: "current_password", code: "invalid_current_password" }),
    ]);

    expect(await userRow(user.id)).toEqual(before);
    expect(await rows("SELECT id FROM user_tokens WHERE user_id = ?", user.id)).toEqual([]);
    expect(await events("user.email_change_requested", user.id)).toEqual([]);
    expect(await events("user.updated", user.id)).toEqual([]);
    expect(await outbox(target)).toEqual([]);
    expect(await outbox(user.email)).toEqual(oldBefore);

    // Names alone need no password.
    const named = await call("PATCH", "/v1/me", { token: user.token, body: { last_name: "Lee" } });
    expect(named.status).toBe(200);
    expect((await userRow(user.id))?.last_name).toBe("Lee");
  });
});

// ---- the cancel link mailed to the current address -------------------------------------

/** The token of the /cancel-email-change link in the notice to the current address. */
async function cancelTokenFor(email: string): Promise<string> {
  const [mail] = await outbox(email);
  expect(mail?.subject).toBe("A change of your sign-in email address was requested");
  expect(mail?.tag).toBe("email-change-requested");
  const prefix = `${env.APP_URL.replace(/\/$/, "")}/cancel-email-change?token=`;
  const at = mail!.text.indexOf(prefix);
  expect(at).toBeGreaterThanOrEqual(0);
  return decodeURIComponent(/^[^\s"'<>&]+/.exec(mail!.text.slice(at + prefix.length))![0]);
}
const cancel = (token: string) =>
  call("POST", "/v1/email-verification/cancel", { body: { token } });
const cancelPage = (token: string) =>
  call<string>("GET", `/cancel-email-change?token=${encodeURIComponent(token)}`);
const postCancelPage = (token: string) =>
  call<string>("POST", "/cancel-email-change", {
    raw: new URLSearchParams({ token }),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
const cancelTokensOf = (userId: string) =>
  rows(
    "SELECT * FROM user_tokens WHERE user_id = ? AND kind = 'email_change_cancel' ORDER BY created_at, rowid",
    userId,
  );

describe("cancelling a requested email change from the current address", () => {
  it("the old address gets a cancel link at once; GET shows it without changing anything; the API cancels once", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const newEmail = uniqueEmail("intruder");
    const { token: verifyLink } = await requestChange(user, "/v1/me", newEmail);
    const cancelToken = await cancelTokenFor(user.email);
    const [stored] = await cancelTokensOf(user.id);
    expect(stored).toMatchObject({
      email: newEmail,
      token_hash: await sha256Hex(cancelToken),
      used_at: null,
      superseded_at: null,
    });
    const before = await userRow(user.id);

    for (let i = 0; i < 2; i++) {
      const shown = await cancelPage(cancelToken);
      expect(shown.status).toBe(200);
      expect(shown.body).toContain(newEmail);
      expect(shown.body).toContain(user.email);
      expect(shown.body).toContain('<form method="post" action="/cancel-email-change">');
      expect(shown.body).toContain(`name="token" value="${cancelToken}"`);
    }
    expect(await userRow(user.id)).toEqual(before);
    expect((await cancelTokensOf(user.id))[0]!.used_at).toBeNull();

    const done = await cancel(cancelToken);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: user.id, email: user.email, pending_email: null });
    expect(await userRow(user.id)).toMatchObject({ email: user.email, pending_email: null });
    expect((await cancelTokensOf(user.id))[0]!.used_at).toEqual(expect.any(Number));
    expect((await tokensOf(user.id))[0]!.superseded_at).toEqual(expect.any(Number));
    const cancelled = await events("user.email_change_cancelled", user.id);
    expect(cancelled).toHaveLength(1);
    expect(JSON.parse(cancelled[0]!.metadata)).toEqual({
      email: newEmail,
      reason: "cancelled_by_link",
    });

    // The verification link is dead, and the cancel link works once.
    expectProblem(await confirm(verifyLink), 404, "token_invalid");
    expectProblem(await cancel(cancelToken), 404, "token_invalid");
    expect((await cancelPage(cancelToken)).status).toBe(404);
    expect(await userRow(user.id)).toMatchObject({ email: user.email, pending_email: null });
    expectProblem(await attempt(newEmail), 401, "invalid_credentials");

    // The page's POST cancels too.
    const second = uniqueEmail("second-intruder");
    const again = await requestChange(user, "/v1/me", second);
    const pageDone = await postCancelPage(await cancelTokenFor(user.email));
    expect(pageDone.status).toBe(200);
    expect(pageDone.body).toContain("Email change cancelled");
    expect((await userRow(user.id))?.pending_email).toBeNull();
    expectProblem(await confirm(again.token), 404, "token_invalid");
  });

  it("once the change is confirmed, or replaced by a newer one, the old cancel link is dead", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    await requestChange(user, "/v1/me", uniqueEmail("first"));
    const firstCancel = await cancelTokenFor(user.email);
    const newer = await requestChange(user, "/v1/me", uniqueEmail("newer"));
    expectProblem(await cancel(firstCancel), 404, "token_invalid");
    const newerCancel = await cancelTokenFor(user.email);
    expect((await confirm(newer.token)).status).toBe(200);
    expectProblem(await cancel(newerCancel), 404, "token_invalid");
    expect((await cancelPage(newerCancel)).status).toBe(404);
    expect(await events("user.email_change_cancelled", user.id)).toEqual([]);
  });
});

// ---- what else ends a pending change --------------------------------------------------

describe("a password change, a reset or disabling cancels a pending email change", () => {
  const cases: [string, "password_changed" | "password_reset" | "disabled", Act][] = [
    [
      "POST /v1/me/password",
      "password_changed",
      (_acct, user) =>
        call("POST", "/v1/me/password", {
          token: user.token,
          body: { current_password: PASSWORD, new_password: "a freshly chosen passphrase 2024" },
        }),
    ],
    [
      "an admin reset",
      "password_reset",
      (acct, user) =>
        call("POST", `/v1/users/${user.id}/password-reset`, { token: acct.token, body: {} }),
    ],
    ["a self-service reset", "password_reset", (_acct, user) => forgotAndReset(user.email)],
    [
      "disabling the user",
      "disabled",
      (acct, user) =>
        call("PATCH", `/v1/users/${user.id}`, {
          token: acct.token,
          body: { status: "disabled" },
        }),
    ],
  ];
  for (const [name, reason, act] of cases) {
    it(`${name}: pending_email cleared, the verification link answers 404 token_invalid`, async () => {
      const acct = await createAccount();
      const user = await createUser(acct);
      const newEmail = uniqueEmail("pending");
      const { token } = await requestChange(user, "/v1/me", newEmail);
      const cancelToken = await cancelTokenFor(user.email);

      const res = await act(acct, user);
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);

      expect(await userRow(user.id)).toMatchObject({ email: user.email, pending_email: null });
      expect((await tokensOf(user.id))[0]!.superseded_at).toEqual(expect.any(Number));
      expect((await cancelTokensOf(user.id))[0]!.superseded_at).toEqual(expect.any(Number));
      expectProblem(await confirm(token), 404, "token_invalid");
      expect((await page(token)).status).toBe(404);
      expectProblem(await cancel(cancelToken), 404, "token_invalid");
      const cancelled = await events("user.email_change_cancelled", user.id);
      expect(cancelled).toHaveLength(1);
      expect(JSON.parse(cancelled[0]!.metadata)).toEqual({ email: newEmail, reason });
    });
  }
});

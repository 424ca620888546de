/**
 * Invitations: invite,
 * the mail in the development outbox, lookup, accept, expiry, resend, revoke, listing, and the
 * administrator that platform support invites with a new account.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  login,
  type Mail,
  newMail,
  outbox,
  PASSWORD,
  PLATFORM_TOKEN,
  type Reply,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

afterEach(() => {
  clock.offsetMs = 0;
});

const invitationRow = async (id: string) =>
  (await rows("SELECT * FROM invitations WHERE id = ?", id))[0]!;
const eventTypes = async (subjectId: string) =>
  (
    await rows<{ type: string }>(
      "SELECT type FROM activity_events WHERE subject_id = ? ORDER BY rowid",
      subjectId,
    )
  ).map((r) => r.type);
const eventsOf = (subjectId: string, type: string) =>
  rows(
    "SELECT * FROM activity_events WHERE subject_id = ? AND type = ? ORDER BY rowid",
    subjectId,
    type,
  );

async function sha256Hex(input: string) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Mail kept in the development outbox for `to`, newest first. */
const linkPrefix = () => `${env.APP_URL.replace(/\/$/, "")}/activate?token=`;

/** Every activation-link token in `content` (the text part, or the html part). */
function linkTokens(content: string): string[] {
  const prefix = linkPrefix();
  const tokens: string[] = [];
  for (let at = content.indexOf(prefix); at >= 0; at = content.indexOf(prefix, at + 1)) {
    tokens.push(decodeURIComponent(/^[^\s"'<>&]+/.exec(content.slice(at + prefix.length))![0]));
  }
  return tokens;
}

/** The token of the mail's link: the same one in the text and the html part. */
function tokenOf(mail: Mail): string {
  const fromText = [...new Set(linkTokens(mail.text))];
  const fromHtml = [...new Set(linkTokens(mail.html))];
  expect(fromText).toHaveLength(1);
  expect(fromHtml).toEqual(fromText);
  return fromText[0]!;
}

/** The expiry in the mail: its UTC day, month, year and time of day. */
function expectShowsExpiry(content: string, expiresAt: string) {
  const d = new Date(expiresAt);
  const pad = (n: number) => String(n).padStart(2, "0");
  expect(content).toContain(`${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`);
  expect(content).toContain(`${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`);
}

interface Invited {
  id: string;
  email: string;
  token: string;
  body: any;
  mail: Mail;
}

/** Invites through the API and takes the token from the mail that arrived for it. */
async function invite(
  acct: TestAccount,
  opts: { email?: string; group_ids?: string[] } = {},
): Promise<Invited> {
  const email = opts.email ?? uniqueEmail("invitee");
  const before = await outbox(email);
  const res = await call("POST", "/v1/invitations", {
    token: acct.token,
    body: { email, ...(opts.group_ids ? { group_ids: opts.group_ids } : {}) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const mail = await newMail(email, before);
  return { id: res.body.id, email: res.body.email, token: tokenOf(mail), body: res.body, mail };
}

const lookup = (token: string) =>
  call("GET", `/v1/invitations/lookup?token=${encodeURIComponent(token)}`);
const accept = (token: string, extra: Record<string, unknown> = {}) =>
  call("POST", "/v1/invitations/accept", {
    body: { token, first_name: "Grace", last_name: "Hopper", password: PASSWORD, ...extra },
  });
const resend = (acct: TestAccount, id: string) =>
  call("POST", `/v1/invitations/${id}/resend`, { token: acct.token });
const revoke = (acct: TestAccount, id: string) =>
  call("DELETE", `/v1/invitations/${id}`, { token: acct.token });
const seats = async (acct: TestAccount) => {
  const res = await call("GET", "/v1/account/limits", { token: acct.token });
  expect(res.status).toBe(200);
  return res.body.users as {
    limit: number;
    active: number;
    pending_invitations: number;
    available: number;
  };
};
const listIds = async (acct: TestAccount, query: string) => {
  const res = await call("GET", `/v1/invitations?${query}`, { token: acct.token });
  expect(res.status).toBe(200);
  return (res.body.data as { id: string }[]).map((i) => i.id).sort();
};

/** Moves the clock to `ms` past the invitation's expiry (negative: before it). */
const moveClockPastExpiry = (expiresAt: string, ms = 60_000) => {
  clock.offsetMs = Date.parse(expiresAt) - Date.now() + ms;
};

/** Access tokens live 15 minutes: after the clock moves, the admin logs in again. */
async function relogin(acct: TestAccount) {
  acct.token = (await login(acct.adminEmail)).access_token;
}

describe("POST /v1/invitations", () => {
  it("invites into Members by default and mails a working, time-limited link; stores only the token's digest", async () => {
    const acct = await createAccount();
    const before = await seats(acct);
    const email = uniqueEmail("Invitee");
    const startedAt = Date.now();
    const res = await call("POST", "/v1/invitations", {
      token: acct.token,
      body: { email: email.toUpperCase() },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      email: email.toLowerCase(),
      group_ids: [acct.membersId],
      status: "pending",
      invited_by: acct.adminId,
      email_delivery: "queued",
    });
    expect(typeof res.body.id).toBe("string");
    expect(new Date(res.body.expires_at).toISOString()).toBe(res.body.expires_at);
    expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(168 * HOUR);
    expect(Date.parse(res.body.created_at)).toBeGreaterThanOrEqual(startedAt - 1000);
    const id = res.body.id as string;

    // The mail, sent from the queue after the answer: the right recipient, both parts, the
    // link, the account name and the expiry.
    const mail = await newMail(email, []);
    expect(mail).toMatchObject({ to: email.toLowerCase(), tag: "invitation" });
    expect(mail.subject).toContain("Acme Signage");
    expect(mail.text).toContain("Acme Signage");
    expect(mail.html).toMatch(/^<!doctype html>/i);
    expect(mail.html).toContain(`href="${linkPrefix()}`);
    const token = tokenOf(mail);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expectShowsExpiry(mail.text, res.body.expires_at);
    expectShowsExpiry(mail.html, res.body.expires_at);

    const found = await lookup(token);
    expect(found.status).toBe(200);
    expect(found.body).toEqual({
      email: email.toLowerCase(),
      account_name: "Acme Signage",
      expires_at: res.body.expires_at,
    });

    // D1 keeps the digest only; KV indexes the invitation under it.
    const hash = await sha256Hex(token);
    const row = await invitationRow(id);
    expect(row).toMatchObject({
      account_id: acct.accountId,
      email: email.toLowerCase(),
      status: "pending",
      token_hash: hash,
      invited_by: acct.adminId,
    });
    expect(JSON.parse(row.group_ids)).toEqual([acct.membersId]);
    expect(row.expires_at).toBe(Date.parse(res.body.expires_at));
    expect(JSON.stringify(row)).not.toContain(token);
    expect(await env.TOKENS.get(`inv:${hash}`, "json")).toMatchObject({
      invitation_id: id,
      account_id: acct.accountId,
    });
    const keys = (await env.TOKENS.list({ prefix: "inv:" })).keys.map((k) => k.name);
    expect(keys.some((k) => k.includes(token))).toBe(false);

    const created = await eventsOf(id, "invitation.created");
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      account_id: acct.accountId,
      actor_type: "user",
      actor_id: acct.adminId,
      subject_type: "invitation",
    });
    expect(JSON.parse(created[0]!.metadata)).toMatchObject({ email: email.toLowerCase() });

    // The invitation holds a seat.
    const after = await seats(acct);
    expect(after.pending_invitations).toBe(before.pending_invitations + 1);
    expect(after.available).toBe(before.available - 1);
    const listed = await call("GET", "/v1/invitations?status=pending", { token: acct.token });
    expect(listed.body.data).toEqual([
      expect.objectContaining({ id, email: email.toLowerCase(), status: "pending" }),
    ]);
  });

  it("invites into the chosen groups, once each", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const inv = await invite(acct, { group_ids: [ops, acct.membersId, ops] });
    expect([...inv.body.group_ids].sort()).toEqual([ops, acct.membersId].sort());
    expect([...JSON.parse((await invitationRow(inv.id)).group_ids)].sort()).toEqual(
      [ops, acct.membersId].sort(),
    );
  });

  it("answers 409 email_taken when a user anywhere has the email, in any case, and writes nothing", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const elsewhere = await createUser(other);
    const here = await createUser(acct);
    const invitationsBefore = await count("SELECT count(*) AS n FROM invitations");
    const eventsBefore = await count("SELECT count(*) AS n FROM activity_events");
    for (const email of [
      acct.adminEmail.toUpperCase(),
      here.email.replace("user", "USER"),
      elsewhere.email.toUpperCase(),
      other.adminEmail,
    ]) {
      expectProblem(
        await call("POST", "/v1/invitations", { token: acct.token, body: { email } }),
        409,
        "email_taken",
      );
    }
    expect(await count("SELECT count(*) AS n FROM invitations")).toBe(invitationsBefore);
    expect(await count("SELECT count(*) AS n FROM activity_events")).toBe(eventsBefore);
    expect(await outbox(elsewhere.email)).toEqual([]);
  });

  it("answers 409 invitation_pending while one is pending for the email; after revoking, it can be sent again", async () => {
    const acct = await createAccount();
    const first = await invite(acct);
    const again = await call("POST", "/v1/invitations", {
      token: acct.token,
      body: { email: first.email.toUpperCase() },
    });
    expectProblem(again, 409, "invitation_pending");
    expect(await count("SELECT count(*) AS n FROM invitations WHERE email = ?", first.email)).toBe(
      1,
    );
    expect(await outbox(first.email)).toHaveLength(1);

    expect((await revoke(acct, first.id)).status).toBe(204);
    const second = await invite(acct, { email: first.email });
    expect(second.id).not.toBe(first.id);
    expect((await lookup(second.token)).status).toBe(200);
  });

  it("lets one of several concurrent invitations of one email through; the rest get 409 invitation_pending", async () => {
    const acct = await createAccount();
    const email = uniqueEmail("rush");
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call("POST", "/v1/invitations", {
          token: acct.token,
          body: { email: i % 2 ? email.toUpperCase() : email },
        }),
      ),
    );
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of replies.filter((r) => r.status !== 201))
      expectProblem(r, 409, "invitation_pending");
    expect(await count("SELECT count(*) AS n FROM invitations WHERE email = ?", email)).toBe(1);
    await newMail(email, []);
    expect((await seats(acct)).pending_invitations).toBe(1);
  });

  it("answers 422 for unknown or foreign group ids and bad emails, and writes nothing", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const before = await count("SELECT count(*) AS n FROM invitations");
    const email = uniqueEmail("bad");
    const foreign = await call("POST", "/v1/invitations", {
      token: acct.token,
      body: { email, group_ids: [acct.membersId, other.administratorsId] },
    });
    expectProblem(foreign, 422, "validation_failed");
    expect(foreign.body.errors).toEqual([
      expect.objectContaining({ path: "group_ids", code: "unknown_id" }),
    ]);
    const unknown = await call("POST", "/v1/invitations", {
      token: acct.token,
      body: { email, group_ids: ["grp_doesnotexist"] },
    });
    expectProblem(unknown, 422, "validation_failed");
    for (const body of [
      { email: "not-an-email" },
      { email: "" },
      {},
      { email, group_ids: [] },
      { email, role: "admin" },
    ]) {
      const res = await call("POST", "/v1/invitations", { token: acct.token, body });
      expectProblem(res, 422, "validation_failed");
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
    expect(await count("SELECT count(*) AS n FROM invitations")).toBe(before);
    expect(await outbox(email)).toEqual([]);
  });

  it("needs users:invite; an inviter cannot hand out groups beyond their own permissions", async () => {
    const acct = await createAccount();
    const member = await createUser(acct);
    const inviters = await createGroup(acct, [{ permission: "users:invite" }]);
    const inviter = await createUser(acct, { groupIds: [inviters] });
    const email = uniqueEmail("perm");
    expectProblem(await call("POST", "/v1/invitations", { body: { email } }), 401, "unauthorized");
    expectProblem(
      await call("POST", "/v1/invitations", { token: member.token, body: { email } }),
      403,
      "forbidden",
    );
    expectProblem(await call("GET", "/v1/invitations", { token: member.token }), 403, "forbidden");
    expect(await count("SELECT count(*) AS n FROM invitations WHERE email = ?", email)).toBe(0);

    const beyond = await call("POST", "/v1/invitations", {
      token: inviter.token,
      body: { email, group_ids: [acct.administratorsId] },
    });
    expectProblem(beyond, 403, "permission_not_held");
    const ok = await call("POST", "/v1/invitations", { token: inviter.token, body: { email } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ group_ids: [acct.membersId], invited_by: inviter.id });

    expectProblem(await resend({ ...acct, token: member.token }, ok.body.id), 403, "forbidden");
    expectProblem(await revoke({ ...acct, token: member.token }, ok.body.id), 403, "forbidden");
    expect((await invitationRow(ok.body.id)).status).toBe("pending");
  });

  it("consumes a seat: over the plan's limit it answers 409 capacity_exceeded; revoking frees the seat", async () => {
    const acct = await createAccount("free"); // 3 seats, the admin holds one
    const a = await invite(acct);
    await invite(acct);
    const email = uniqueEmail("over");
    expectProblem(
      await call("POST", "/v1/invitations", { token: acct.token, body: { email } }),
      409,
      "capacity_exceeded",
    );
    expect(await outbox(email)).toEqual([]);
    expect(await seats(acct)).toMatchObject({
      limit: 3,
      active: 1,
      pending_invitations: 2,
      available: 0,
    });
    expect((await revoke(acct, a.id)).status).toBe(204);
    expect(await seats(acct)).toMatchObject({ pending_invitations: 1, available: 1 });
    await invite(acct, { email });
  });
});

describe("POST /v1/invitations/accept", () => {
  it("creates the user in the invited groups, logs them in, and counts the email as verified", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const inv = await invite(acct, { group_ids: [ops] });
    const before = await seats(acct);

    const res = await accept(inv.token, { first_name: " Grace ", last_name: "Hopper" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ token_type: "Bearer", must_change_password: false });
    expect(typeof res.body.access_token).toBe("string");
    expect(typeof res.body.refresh_token).toBe("string");
    expect(res.body.user).toMatchObject({
      account_id: acct.accountId,
      email: inv.email,
      first_name: "Grace",
      last_name: "Hopper",
      status: "active",
      created_via: "invitation",
      created_by: acct.adminId,
      group_ids: [ops, acct.membersId].sort(),
      must_change_password: false,
    });
    const userId = res.body.user.id as string;

    const me = await call("GET", "/v1/me", { token: res.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      id: userId,
      email: inv.email,
      group_ids: [ops, acct.membersId].sort(),
    });
    expect(me.body.permissions).toEqual(
      expect.arrayContaining([expect.objectContaining({ permission: "devices:read" })]),
    );
    expect(
      (await call("POST", "/v1/auth/refresh", { body: { refresh_token: res.body.refresh_token } }))
        .status,
    ).toBe(200);
    expect((await login(inv.email, PASSWORD)).user.id).toBe(userId);

    const [user] = await rows("SELECT * FROM users WHERE id = ?", userId);
    expect(user).toMatchObject({
      account_id: acct.accountId,
      email: inv.email,
      created_via: "invitation",
      created_by: acct.adminId,
      status: "active",
    });
    expect(user!.email_verified_at).not.toBeNull();
    expect(
      (
        await rows(
          "SELECT group_id FROM group_memberships WHERE user_id = ? ORDER BY group_id",
          userId,
        )
      ).map((r) => r.group_id),
    ).toEqual([ops, acct.membersId].sort());
    const row = await invitationRow(inv.id);
    expect(row).toMatchObject({ status: "accepted", user_id: userId });
    expect(row.accepted_at).not.toBeNull();

    expect(await eventTypes(inv.id)).toEqual(["invitation.created", "invitation.accepted"]);
    expect((await eventsOf(inv.id, "invitation.accepted"))[0]).toMatchObject({
      actor_type: "user",
      actor_id: userId,
    });
    const created = await eventsOf(userId, "user.created");
    expect(created).toHaveLength(1);
    expect(JSON.parse(created[0]!.metadata)).toMatchObject({
      created_via: "invitation",
      invitation_id: inv.id,
    });

    // The seat moves from the invitation to the user.
    expect(await seats(acct)).toMatchObject({
      active: before.active + 1,
      pending_invitations: before.pending_invitations - 1,
      available: before.available,
    });
    const listed = await call("GET", "/v1/invitations?status=accepted", { token: acct.token });
    expect(listed.body.data).toEqual([
      expect.objectContaining({ id: inv.id, status: "accepted", user_id: userId }),
    ]);
  });

  it("works once: a second accept and a lookup answer 404 invitation_invalid", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    expect((await accept(inv.token)).status).toBe(201);
    expectProblem(await accept(inv.token, { first_name: "Mallory" }), 404, "invitation_invalid");
    expectProblem(await lookup(inv.token), 404, "invitation_invalid");
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM users WHERE first_name = 'Mallory'")).toBe(0);
  });

  it("lets exactly one of ten concurrent accepts of one token succeed", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => accept(inv.token, { first_name: `Racer${i}` })),
    );
    const won = replies.filter((r) => r.status === 201);
    expect(won).toHaveLength(1);
    for (const r of replies.filter((r) => r.status !== 201))
      expectProblem(r, 404, "invitation_invalid");
    const winner = won[0]!.body.user;
    expect(await rows("SELECT id, first_name FROM users WHERE email = ?", inv.email)).toEqual([
      { id: winner.id, first_name: winner.first_name },
    ]);
    expect(await count("SELECT count(*) AS n FROM sessions WHERE user_id = ?", winner.id)).toBe(1);
    expect(await eventTypes(inv.id)).toEqual(["invitation.created", "invitation.accepted"]);
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'user.created' AND account_id = ? AND subject_id <> ?",
        acct.accountId,
        acct.adminId,
      ),
    ).toBe(1);
    expect((await call("GET", "/v1/me", { token: won[0]!.body.access_token })).status).toBe(200);
  });

  it("answers 422 weak_password for a weak password and changes nothing", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const eventsBefore = await count(
      "SELECT count(*) AS n FROM activity_events WHERE account_id = ?",
      acct.accountId,
    );
    for (const password of [
      "short pass",
      "passwordpassword",
      "aaaaaaaaaaaaaaaaaaaa",
      `${inv.email}!`,
      "Acme Signage 2024!",
    ]) {
      const res = await accept(inv.token, { password });
      expectProblem(res, 422, "weak_password");
      expect(res.body.errors).toEqual([
        expect.objectContaining({ path: "password", code: "weak_password" }),
      ]);
    }
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(0);
    expect(await invitationRow(inv.id)).toMatchObject({
      status: "pending",
      accepted_at: null,
      user_id: null,
    });
    expect(
      await count("SELECT count(*) AS n FROM activity_events WHERE account_id = ?", acct.accountId),
    ).toBe(eventsBefore);
    expect((await lookup(inv.token)).status).toBe(200);
    expect((await accept(inv.token)).status).toBe(201);
  });

  it("rejects bad input and unknown tokens", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    for (const body of [
      { token: inv.token },
      { token: inv.token, first_name: "A", last_name: "B" },
      { token: inv.token, first_name: "", last_name: "B", password: PASSWORD },
    ]) {
      expectProblem(
        await call("POST", "/v1/invitations/accept", { body }),
        422,
        "validation_failed",
      );
    }
    expectProblem(await accept(inv.token, { admin: true }), 422, "validation_failed");
    const wellFormedUnknown =
      inv.token.slice(0, -4) + (inv.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    for (const token of [wellFormedUnknown, "nope", `${inv.token}x`]) {
      expectProblem(await accept(token), 404, "invitation_invalid");
      expectProblem(await lookup(token), 404, "invitation_invalid");
    }
    expectProblem(await call("GET", "/v1/invitations/lookup"), 422, "validation_failed");
    expect(await invitationRow(inv.id)).toMatchObject({ status: "pending" });
  });

  it("skips groups deleted since the invitation was sent; the user always joins Members", async () => {
    const acct = await createAccount();
    const kept = await createGroup(acct, [{ permission: "devices:read" }]);
    const gone = await createGroup(acct, [{ permission: "content:read" }]);
    const both = await invite(acct, { group_ids: [kept, gone] });
    const onlyGone = await invite(acct, { group_ids: [gone] });
    expect((await call("DELETE", `/v1/groups/${gone}`, { token: acct.token })).status).toBe(204);
    expect((await accept(both.token)).body.user.group_ids).toEqual([kept, acct.membersId].sort());
    expect((await accept(onlyGone.token)).body.user.group_ids).toEqual([acct.membersId]);
  });

  it("answers 409 email_taken when someone took the email meanwhile, and leaves the invitation pending", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const inv = await invite(acct);
    await createUser(other, { email: inv.email });
    expectProblem(await accept(inv.token), 409, "email_taken");
    expect(await invitationRow(inv.id)).toMatchObject({ status: "pending", user_id: null });
    expect(
      await count(
        "SELECT count(*) AS n FROM users WHERE email = ? AND account_id = ?",
        inv.email,
        acct.accountId,
      ),
    ).toBe(0);
  });
});

describe("expiry", () => {
  it("after seven days: 410 invitation_expired, marked once, the seat freed, and the email can be invited again", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const before = await seats(acct);

    moveClockPastExpiry(inv.body.expires_at, -60_000);
    expect((await lookup(inv.token)).status).toBe(200);

    moveClockPastExpiry(inv.body.expires_at);
    expect(Date.parse(inv.body.expires_at) - Date.parse(inv.body.created_at)).toBe(7 * DAY);
    expectProblem(await lookup(inv.token), 410, "invitation_expired");
    expect((await invitationRow(inv.id)).status).toBe("expired");
    expectProblem(await lookup(inv.token), 410, "invitation_expired");
    expectProblem(await accept(inv.token), 410, "invitation_expired");
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(0);
    const expired = await eventsOf(inv.id, "invitation.expired");
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ account_id: acct.accountId, actor_type: "system" });

    await relogin(acct);
    expect(await seats(acct)).toMatchObject({
      pending_invitations: before.pending_invitations - 1,
      available: before.available + 1,
    });
    expect(await listIds(acct, "status=expired")).toEqual([inv.id]);
    expect(await listIds(acct, "status=pending")).toEqual([]);

    const again = await invite(acct, { email: inv.email });
    expect(again.id).not.toBe(inv.id);
    expect(Date.parse(again.body.expires_at)).toBeGreaterThan(clock.now());
    const accepted = await accept(again.token);
    expect(accepted.status).toBe(201);
    expect(accepted.body.user.email).toBe(inv.email);
    expectProblem(await lookup(inv.token), 410, "invitation_expired");
    expect(await eventsOf(inv.id, "invitation.expired")).toHaveLength(1);
  });

  it("frees the seat and lists as expired even before anyone follows the link", async () => {
    const acct = await createAccount("free"); // 3 seats, the admin holds one
    const a = await invite(acct);
    await invite(acct);
    expectProblem(
      await call("POST", "/v1/invitations", { token: acct.token, body: { email: uniqueEmail() } }),
      409,
      "capacity_exceeded",
    );

    moveClockPastExpiry(a.body.expires_at);
    await relogin(acct);
    expect(await seats(acct)).toMatchObject({ pending_invitations: 0, available: 2 });
    const listed = await call("GET", "/v1/invitations?status=expired", { token: acct.token });
    expect(listed.body.data).toHaveLength(2);
    expect(listed.body.data.every((i: any) => i.status === "expired")).toBe(true);
    await invite(acct);
    await invite(acct, { email: a.email });
  });

  it("follows the account's invitation_ttl_hours", async () => {
    const acct = await createAccount();
    const patched = await call("PATCH", "/v1/account", {
      token: acct.token,
      body: { settings: { invitation_ttl_hours: 1 } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.settings.invitation_ttl_hours).toBe(1);
    const inv = await invite(acct);
    expect(Date.parse(inv.body.expires_at) - Date.parse(inv.body.created_at)).toBe(HOUR);
    expectShowsExpiry(inv.mail.text, inv.body.expires_at);
    expect((await lookup(inv.token)).body.expires_at).toBe(inv.body.expires_at);

    moveClockPastExpiry(inv.body.expires_at);
    expectProblem(await accept(inv.token), 410, "invitation_expired");
    expect((await invitationRow(inv.id)).status).toBe("expired");
    expect(await eventsOf(inv.id, "invitation.expired")).toHaveLength(1);
    await relogin(acct);
    expect(await listIds(acct, "status=expired")).toEqual([inv.id]);
  });
});

describe("POST /v1/invitations/:id/resend", () => {
  it("issues a new token and expiry, kills the old link and mails the new one", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const oldHash = await sha256Hex(inv.token);
    const before = await seats(acct);

    clock.offsetMs = DAY;
    await relogin(acct);
    const mailsBefore = await outbox(inv.email);
    const res = await resend(acct, inv.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: inv.id,
      email: inv.email,
      status: "pending",
      group_ids: inv.body.group_ids,
    });
    expect(Date.parse(res.body.expires_at)).toBeGreaterThanOrEqual(
      Date.parse(inv.body.expires_at) + DAY,
    );
    const mail = await newMail(inv.email, mailsBefore);
    const token = tokenOf(mail);
    expect(token).not.toBe(inv.token);
    expectShowsExpiry(mail.text, res.body.expires_at);

    expectProblem(await lookup(inv.token), 404, "invitation_invalid");
    expectProblem(await accept(inv.token), 404, "invitation_invalid");
    const newHash = await sha256Hex(token);
    expect(await invitationRow(inv.id)).toMatchObject({
      token_hash: newHash,
      status: "pending",
      expires_at: Date.parse(res.body.expires_at),
    });
    expect(await env.TOKENS.get(`inv:${oldHash}`)).toBeNull();
    expect(await env.TOKENS.get(`inv:${newHash}`, "json")).toMatchObject({ invitation_id: inv.id });
    const resent = await eventsOf(inv.id, "invitation.resent");
    expect(resent).toHaveLength(1);
    expect(resent[0]).toMatchObject({ actor_type: "user", actor_id: acct.adminId });
    expect(Date.parse(res.body.expires_at) - resent[0]!.occurred_at).toBe(7 * DAY); // a fresh seven days from the resend
    expect(await seats(acct)).toEqual(before);

    expect((await lookup(token)).body).toMatchObject({
      email: inv.email,
      expires_at: res.body.expires_at,
    });
    expect((await accept(token)).status).toBe(201);
  });

  it("revives an expired invitation, which needs a free seat again", async () => {
    const acct = await createAccount("free"); // 3 seats, the admin holds one
    const a = await invite(acct);
    const b = await invite(acct);
    moveClockPastExpiry(a.body.expires_at);
    await relogin(acct);
    expectProblem(await lookup(a.token), 410, "invitation_expired"); // a is marked expired, b is not yet
    await invite(acct); // takes one of the two freed seats
    await invite(acct); // and the other

    expectProblem(await resend(acct, a.id), 409, "capacity_exceeded");
    expect((await invitationRow(a.id)).status).toBe("expired");
    const c = (await call("GET", "/v1/invitations?status=pending", { token: acct.token })).body
      .data[0];
    expect((await revoke(acct, c.id)).status).toBe(204);

    const mailsBefore = await outbox(a.email);
    const res = await resend(acct, a.id);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending");
    expect(Date.parse(res.body.expires_at)).toBeGreaterThan(clock.now());
    const token = tokenOf(await newMail(a.email, mailsBefore));
    expect((await invitationRow(a.id)).status).toBe("pending");
    expect(await seats(acct)).toMatchObject({ pending_invitations: 2, available: 0 });
    expectProblem(await lookup(a.token), 404, "invitation_invalid");
    expect((await accept(token)).status).toBe(201);
    expect(await eventTypes(a.id)).toEqual([
      "invitation.created",
      "invitation.expired",
      "invitation.resent",
      "invitation.accepted",
    ]);

    // b expired too (never marked): reviving it needs a seat as well, and none is left.
    expectProblem(await resend(acct, b.id), 409, "capacity_exceeded");
  });

  it("refuses to revive an expired invitation whose email was invited again", async () => {
    const acct = await createAccount();
    const a = await invite(acct);
    moveClockPastExpiry(a.body.expires_at);
    await relogin(acct);
    await invite(acct, { email: a.email });
    expectProblem(await resend(acct, a.id), 409, "invitation_pending");
  });

  it("answers 409 email_taken, and mails nothing, when the email has become a user's meanwhile", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const inv = await invite(acct);
    await createUser(other, { email: inv.email });
    const mailsBefore = await outbox(inv.email);
    expectProblem(await resend(acct, inv.id), 409, "email_taken");
    expect(await outbox(inv.email)).toHaveLength(mailsBefore.length);
    expect((await invitationRow(inv.id)).token_hash).toBe(await sha256Hex(inv.token));
    expect(await eventsOf(inv.id, "invitation.resent")).toEqual([]);
  });

  it("is held to the resender's own authority, like inviting", async () => {
    const acct = await createAccount();
    const inviters = await createGroup(acct, [{ permission: "users:invite" }]);
    const inviter = await createUser(acct, { groupIds: [inviters] });
    const asInviter = { ...acct, token: inviter.token };
    const admin = await invite(acct, { group_ids: [acct.administratorsId] });
    const member = await invite(acct);
    expectProblem(await resend(asInviter, admin.id), 403, "permission_not_held");
    expect((await invitationRow(admin.id)).token_hash).toBe(await sha256Hex(admin.token));
    expect((await lookup(admin.token)).status).toBe(200);
    expect((await resend(asInviter, member.id)).status).toBe(200);

    // Nor can they revive an expired Administrators invitation.
    moveClockPastExpiry(admin.body.expires_at);
    asInviter.token = (await login(inviter.email)).access_token;
    expectProblem(await resend(asInviter, admin.id), 403, "permission_not_held");
    expect(await listIds(asInviter, "status=expired")).toContain(admin.id);
    expect(await eventsOf(admin.id, "invitation.resent")).toEqual([]);
  });

  it("answers 409 invitation_not_pending for accepted or revoked invitations, 404 for other accounts'", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const accepted = await invite(acct);
    expect((await accept(accepted.token)).status).toBe(201);
    const revoked = await invite(acct);
    expect((await revoke(acct, revoked.id)).status).toBe(204);
    const mailsBefore = await outbox(revoked.email);
    for (const inv of [accepted, revoked])
      expectProblem(await resend(acct, inv.id), 409, "invitation_not_pending");
    expect(await outbox(revoked.email)).toHaveLength(mailsBefore.length);
    expectProblem(await lookup(revoked.token), 404, "invitation_invalid");

    const theirs = await invite(other);
    expectProblem(await resend(acct, theirs.id), 404, "not_found");
    expectProblem(await revoke(acct, theirs.id), 404, "not_found");
    expectProblem(await resend(acct, "inv_doesnotexist"), 404, "not_found");
    expect((await invitationRow(theirs.id)).status).toBe("pending");
    expect((await lookup(theirs.token)).status).toBe(200);
    expect(await eventTypes(theirs.id)).toEqual(["invitation.created"]);
  });
});

describe("DELETE /v1/invitations/:id", () => {
  it("revokes: 204, the link dies, the seat is freed; a second revoke answers 409", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const before = await seats(acct);
    const res = await revoke(acct, inv.id);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();

    expectProblem(await lookup(inv.token), 404, "invitation_invalid");
    expectProblem(await accept(inv.token), 404, "invitation_invalid");
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(0);
    const row = await invitationRow(inv.id);
    expect(row.status).toBe("revoked");
    expect(row.revoked_at).not.toBeNull();
    expect(await env.TOKENS.get(`inv:${await sha256Hex(inv.token)}`)).toBeNull();
    expect(await seats(acct)).toMatchObject({
      pending_invitations: before.pending_invitations - 1,
      available: before.available + 1,
    });
    const revoked = await eventsOf(inv.id, "invitation.revoked");
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ actor_type: "user", actor_id: acct.adminId });

    expectProblem(await revoke(acct, inv.id), 409, "invitation_not_pending");
    expect(await eventsOf(inv.id, "invitation.revoked")).toHaveLength(1);
    const accepted = await invite(acct);
    expect((await accept(accepted.token)).status).toBe(201);
    expectProblem(await revoke(acct, accepted.id), 409, "invitation_not_pending");
    expect((await invitationRow(accepted.id)).status).toBe("accepted");
  });

  it("does not revoke an expired invitation, whether or not its expiry was recorded yet", async () => {
    const acct = await createAccount();
    const marked = await invite(acct);
    const unmarked = await invite(acct);
    moveClockPastExpiry(unmarked.body.expires_at);
    await relogin(acct);
    expectProblem(await lookup(marked.token), 410, "invitation_expired");
    expect((await invitationRow(marked.id)).status).toBe("expired");
    expect((await invitationRow(unmarked.id)).status).toBe("pending"); // past expiry, not yet swept
    for (const inv of [marked, unmarked]) {
      expectProblem(await revoke(acct, inv.id), 409, "invitation_not_pending");
      expect(await eventsOf(inv.id, "invitation.revoked")).toEqual([]);
    }
    expect((await invitationRow(unmarked.id)).revoked_at).toBeNull();
    expect(await listIds(acct, "status=expired")).toEqual([marked.id, unmarked.id].sort());
  });
});

describe("GET /v1/invitations", () => {
  it("filters by status and pages through with a cursor", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    await invite(other);
    // One invitation that lives an hour, the rest seven days.
    expect(
      (
        await call("PATCH", "/v1/account", {
          token: acct.token,
          body: { settings: { invitation_ttl_hours: 1 } },
        })
      ).status,
    ).toBe(200);
    const expired = await invite(acct);
    expect(
      (
        await call("PATCH", "/v1/account", {
          token: acct.token,
          body: { settings: { invitation_ttl_hours: 168 } },
        })
      ).status,
    ).toBe(200);
    const pending = [
      await invite(acct),
      await invite(acct),
      await invite(acct),
      await invite(acct),
      await invite(acct),
    ];
    const accepted = await invite(acct);
    const revoked = await invite(acct);

    moveClockPastExpiry(expired.body.expires_at);
    await relogin(acct);
    expect((await accept(accepted.token)).status).toBe(201);
    expect((await revoke(acct, revoked.id)).status).toBe(204);

    expect(await listIds(acct, "status=pending")).toEqual(pending.map((i) => i.id).sort());
    expect(await listIds(acct, "status=accepted")).toEqual([accepted.id]);
    expect(await listIds(acct, "status=revoked")).toEqual([revoked.id]);
    expect(await listIds(acct, "status=expired")).toEqual([expired.id]);
    expect(await listIds(acct, "")).toEqual(
      [expired, ...pending, accepted, revoked].map((i) => i.id).sort(),
    );
    expectProblem(
      await call("GET", "/v1/invitations?status=lost", { token: acct.token }),
      422,
      "validation_failed",
    );

    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const res: Reply = await call(
        "GET",
        `/v1/invitations?status=pending&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        { token: acct.token },
      );
      expect(res.status).toBe(200);
      sizes.push(res.body.data.length);
      for (const item of res.body.data) {
        expect(item.status).toBe("pending");
        seen.push(item.id);
      }
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toHaveLength(5);
    expect([...seen].sort()).toEqual(pending.map((i) => i.id).sort());
  });
});

describe("POST /v1/platform/accounts without admin_password", () => {
  it("invites the first administrator, who accepts into Administrators and can manage users", async () => {
    const email = uniqueEmail("founder");
    const name = `Globex ${Date.now().toString(36)}`;
    const res = await call("POST", "/v1/platform/accounts", {
      token: PLATFORM_TOKEN,
      body: { name, plan: "team", admin_email: email },
    });
    expect(res.status).toBe(201);
    expect(res.body.account).toMatchObject({ name, plan: "team" });
    expect(res.body.admin).toMatchObject({ email, status: "pending", invited_by: null });
    expect(res.body.invitation).toMatchObject({ id: res.body.admin.id });
    const accountId = res.body.account.id as string;
    const [administrators] = await rows(
      "SELECT id FROM groups WHERE account_id = ? AND builtin = 'administrators'",
      accountId,
    );
    const [members] = await rows(
      "SELECT id FROM groups WHERE account_id = ? AND builtin = 'members'",
      accountId,
    );
    // Members is everyone's group, the first administrator's too.
    const adminGroups = [administrators!.id, members!.id];
    expect(res.body.admin.group_ids).toEqual(adminGroups);
    expect(await count("SELECT count(*) AS n FROM users WHERE account_id = ?", accountId)).toBe(0);
    expectProblem(
      await call("POST", "/v1/auth/login", { body: { email, password: PASSWORD } }),
      401,
      "invalid_credentials",
    );
    expect(await eventsOf(res.body.admin.id, "invitation.created")).toEqual([
      expect.objectContaining({ account_id: accountId, actor_type: "platform" }),
    ]);

    const mail = await newMail(email, []);
    expect(mail.subject).toContain(name);
    const token = tokenOf(mail);
    expect((await lookup(token)).body).toEqual({
      email,
      account_name: name,
      expires_at: res.body.admin.expires_at,
    });

    const accepted = await accept(token, { first_name: "Hank", last_name: "Scorpio" });
    expect(accepted.status).toBe(201);
    expect(accepted.body.user).toMatchObject({
      account_id: accountId,
      email,
      created_via: "invitation",
      created_by: null,
      group_ids: [...adminGroups].sort(),
    });
    const session = await login(email);
    const me = await call("GET", "/v1/me", { token: session.access_token });
    expect(me.body.groups).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: administrators!.id, name: "Administrators" }),
        expect.objectContaining({ id: members!.id, name: "Members" }),
      ]),
    );
    const users = await call("GET", "/v1/users", { token: session.access_token });
    expect(users.status).toBe(200);
    expect(users.body.data.map((u: any) => u.email)).toEqual([email]);
    expect(
      (
        await call("POST", "/v1/invitations", {
          token: session.access_token,
          body: { email: uniqueEmail() },
        })
      ).status,
    ).toBe(201);
  });
});

describe("invitations and Members", () => {
  it("an invitation always carries Members, and accepting always adds it", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const inv = await invite(acct, { group_ids: [ops] });
    expect([...inv.body.group_ids].sort()).toEqual([ops, acct.membersId].sort());
    expect(JSON.parse((await invitationRow(inv.id)).group_ids).sort()).toEqual(
      [ops, acct.membersId].sort(),
    );

    // An invitation stored without Members (sent before the rule) still yields a member.
    const old = await invite(acct, { group_ids: [ops] });
    await env.DB.prepare("UPDATE invitations SET group_ids = ? WHERE id = ?")
      .bind(JSON.stringify([ops]), old.id)
      .run();
    const accepted = await accept(old.token);
    expect(accepted.status).toBe(201);
    expect(accepted.body.user.group_ids).toEqual([ops, acct.membersId].sort());
    expect(
      (
        await rows<{ group_id: string }>(
          "SELECT group_id FROM group_memberships WHERE user_id = ? ORDER BY group_id",
          accepted.body.user.id,
        )
      ).map((r) => r.group_id),
    ).toEqual([ops, acct.membersId].sort());
  });
});

/**
 * Activity:
 * every event type produced by its action with actor, subject, method, IP and user agent;
 * the list's filters, order and cursor pagination; a user's trail; inactive users; the
 * CSV and NDJSON export of a whole range; retention and re-sending by the cron.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { parse } from "csv-parse/sync";
import { afterEach, describe, expect, it } from "vitest";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import { clock } from "../../src/lib/clock";
import { newId } from "../../src/lib/ids";
import {
  type CallOptions,
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  login,
  PASSWORD,
  PLATFORM_TOKEN,
  type Reply,
  rows,
  runCron,
  type TestAccount,
  uniqueEmail,
  until,
} from "../helpers";
import { connect, newDomain, ssoLogin } from "../sso-helpers";

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;

afterEach(() => {
  clock.offsetMs = 0;
});

/** The token in the newest mail to `to` (invitation or email verification link). */
async function mailedToken(to: string): Promise<string> {
  const res = await until(
    () => call("GET", `/v1/dev/outbox?to=${encodeURIComponent(to)}`, { token: PLATFORM_TOKEN }),
    (r) => r.body?.data?.length > 0,
    `mail to ${to}`,
  );
  return decodeURIComponent(/[?&]token=([^\s"'<>&]+)/.exec(res.body.data[0].text)![1]!);
}

/** Every event the list answers for `query`, page by page. */
async function walk(
  token: string,
  query: Record<string, string | number> = {},
  path = "/v1/activity",
) {
  const seen: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const qs = new URLSearchParams(
      Object.entries({ limit: 100, ...query, ...(cursor ? { cursor } : {}) }).map(
        ([k, v]): [string, string] => [k, String(v)],
      ),
    );
    const res: Reply = await call("GET", `${path}?${qs}`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(Number(query.limit ?? 100));
    seen.push(...res.body.data);
    cursor = res.body.next_cursor;
    if (!cursor) return seen;
  }
  throw new Error("pagination does not end");
}

const newestFirst = (
  a: { occurred_at: string; id: string },
  b: { occurred_at: string; id: string },
) => b.occurred_at.localeCompare(a.occurred_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** Rows straight into activity_events (fast setup for volume, ties and age). */
async function insertEvents(
  events: {
    accountId: string;
    occurredAt: number;
    type?: string;
    ip?: string | null;
    userAgent?: string | null;
    subjectId?: string;
    streamedAt?: number | null;
    metadata?: unknown;
  }[],
) {
  const ids: string[] = [];
  const stmt =
    env.DB.prepare(`INSERT INTO activity_events (id, account_id, type, occurred_at, actor_type, actor_id, subject_type, subject_id, method, ip, user_agent, metadata, streamed_at)
    VALUES (?, ?, ?, ?, 'system', NULL, 'user', ?, NULL, ?, ?, ?, ?)`);
  const statements = events.map((e) => {
    const id = newId("event");
    ids.push(id);
    return stmt.bind(
      id,
      e.accountId,
      e.type ?? "user.updated",
      e.occurredAt,
      e.subjectId ?? "usr_x",
      e.ip ?? null,
      e.userAgent ?? null,
      JSON.stringify(e.metadata ?? {}),
      e.streamedAt === undefined ? e.occurredAt : e.streamedAt,
    );
  });
  for (let i = 0; i < statements.length; i += 500) await env.DB.batch(statements.slice(i, i + 500));
  return ids;
}

// ---- each event type from its action ----------------------------------------------------

type Ref = { type: string; id: string | null };
/** `noRequest`: made by the cron, so no address or user agent. */
type Expected = {
  actor: Ref;
  subject: Ref | null;
  method: string | null;
  noRequest?: boolean;
  metadata?: Record<string, unknown>;
};
/** `call`: a request from the case's address and user agent, answering `status`; `act`: the events written meanwhile are the case's. */
type Step = {
  acct: TestAccount;
  call(method: string, path: string, opts: CallOptions, status: number): Promise<Reply>;
  act(fn: () => Promise<unknown>): Promise<void>;
};
type Case = { label?: string; type: string; plan?: string; run(t: Step): Promise<Expected> };

const user = (id: string): Ref => ({ type: "user", id });
const byAdmin = (t: Step, subject: Ref, extra: Partial<Expected> = {}): Expected => ({
  actor: user(t.acct.adminId),
  subject,
  method: "password",
  ...extra,
});
const admin = (t: Step) => ({ token: t.acct.token });
const newUserBody = () => ({
  email: uniqueEmail(),
  first_name: "Ada",
  last_name: "Lovelace",
  password: PASSWORD,
});
const newUser = (t: Step) =>
  call("POST", "/v1/users", { ...admin(t), body: newUserBody() }).then((r) => r.body.id as string);
const invite = (t: Step, email = uniqueEmail("invitee")) =>
  call("POST", "/v1/invitations", { ...admin(t), body: { email } }).then((r) => ({
    id: r.body.id as string,
    email,
  }));
const deviceOrg = (t: Step) =>
  call("POST", "/v1/device-organizations", { ...admin(t), body: { name: "Lobby screens" } }).then(
    (r) => r.body.id as string,
  );
const apiToken = (t: Step) =>
  call("POST", "/v1/api-tokens", {
    ...admin(t),
    body: { name: "ci", permissions: ["users:read"] },
  }).then((r) => r.body as { id: string; token: string });

const acceptBody = async (email: string) => ({
  token: await mailedToken(email),
  first_name: "Grace",
  last_name: "Hopper",
  password: PASSWORD,
});
const selfDone = (id: string, method: string | null = "password"): Expected => ({
  actor: user(id),
  subject: user(id),
  method,
});

type Req = [method: string, path: string, body?: unknown];
/** An administrator's request (about a subject set up first, or the one it creates): theirs, by their session's method. */
function adminCase(
  type: string,
  status: number,
  make: (t: Step) => Promise<{ req: Req; subject?: Ref; created?: string }>,
  extra: Partial<Case> & { metadata?: (t: Step) => Record<string, unknown> } = {},
): Case {
  return {
    type,
    plan: extra.plan,
    run: async (t) => {
      const {
        req: [method, path, body],
        subject,
        created,
      } = await make(t);
      const res = await t.call(method, path, { token: t.acct.token, body }, status);
      return byAdmin(
        t,
        subject ?? { type: created!, id: res.body.id },
        extra.metadata ? { metadata: extra.metadata(t) } : {},
      );
    },
  };
}
const about =
  (setup: (t: Step) => Promise<Ref>, req: (id: string, t: Step) => Req) => async (t: Step) => {
    const subject = await setup(t);
    return { subject, req: req(subject.id!, t) };
  };
const creating = (created: string, req: (t: Step) => Req | Promise<Req>) => async (t: Step) => ({
  created,
  req: await req(t),
});
const aUser = async (t: Step) => user(await newUser(t));
const aDisabledUser = async (t: Step) => {
  const id = await newUser(t);
  await call("PATCH", `/v1/users/${id}`, { ...admin(t), body: { status: "disabled" } });
  return user(id);
};
const anInvitation = async (t: Step): Promise<Ref> => ({
  type: "invitation",
  id: (await invite(t)).id,
});
const aGroup = async (t: Step): Promise<Ref> => ({
  type: "group",
  id: await createGroup(t.acct, []),
});
const aDevice = async (t: Step): Promise<Ref> => ({
  type: "device",
  id: (
    await call("POST", "/v1/devices", {
      ...admin(t),
      body: { name: "Lobby 2", device_organization_id: await deviceOrg(t) },
    })
  ).body.id,
});
const anApiToken = async (t: Step): Promise<Ref> => ({
  type: "api_token",
  id: (await apiToken(t)).id,
});

const CASES: Case[] = [
  {
    type: "auth.login.succeeded",
    run: async (t) => {
      const u = await createUser(t.acct);
      await t.call("POST", "/v1/auth/login", { body: { email: u.email, password: PASSWORD } }, 200);
      return selfDone(u.id);
    },
  },
  {
    type: "auth.login.failed",
    run: async (t) => {
      const u = await createUser(t.acct);
      await t.call(
        "POST",
        "/v1/auth/login",
        { body: { email: u.email, password: "not the password at all" } },
        401,
      );
      return { ...selfDone(u.id), actor: { type: "anonymous", id: null } };
    },
  },
  {
    type: "auth.logout",
    run: async (t) => {
      const u = await createUser(t.acct);
      await t.call("POST", "/v1/auth/logout", { token: u.token }, 204);
      return selfDone(u.id);
    },
  },
  {
    type: "auth.token_refreshed",
    run: async (t) => {
      const u = await createUser(t.acct);
      await t.call("POST", "/v1/auth/refresh", { body: { refresh_token: u.refreshToken } }, 200);
      return selfDone(u.id);
    },
  },
  {
    type: "auth.api_token_used",
    run: async (t) => {
      const tok = await apiToken(t);
      await t.call("GET", "/v1/users", { token: tok.token }, 200);
      return {
        actor: { type: "api_token", id: tok.id },
        subject: { type: "api_token", id: tok.id },
        method: "api_token",
        metadata: { user_id: t.acct.adminId },
      };
    },
  },
  adminCase(
    "user.created",
    201,
    creating("user", () => ["POST", "/v1/users", newUserBody()]),
    { metadata: (t) => ({ created_via: "manual", created_by: t.acct.adminId }) },
  ),
  adminCase(
    "user.updated",
    200,
    about(aUser, (id) => ["PATCH", `/v1/users/${id}`, { first_name: "Augusta" }]),
  ),
  adminCase(
    "user.email_change_requested",
    200,
    about(aUser, (id) => ["PATCH", `/v1/users/${id}`, { email: uniqueEmail("moved") }]),
  ),
  {
    type: "user.email_changed",
    run: async (t) => {
      const u = await createUser(t.acct);
      const email = uniqueEmail("moved");
      await call("PATCH", "/v1/me", {
        token: u.token,
        body: { email, current_password: PASSWORD },
      });
      const body = { token: await mailedToken(email) };
      await t.call("POST", "/v1/email-verification/confirm", { body }, 200);
      return selfDone(u.id, null);
    },
  },
  {
    type: "user.email_change_cancelled",
    run: async (t) => {
      const u = await createUser(t.acct);
      await call("PATCH", "/v1/me", {
        token: u.token,
        body: { email: uniqueEmail("moved"), current_password: PASSWORD },
      });
      // The newest mail to the current address is the notice with the cancel link.
      const body = { token: await mailedToken(u.email) };
      await t.call("POST", "/v1/email-verification/cancel", { body }, 200);
      return selfDone(u.id, null);
    },
  },
  adminCase(
    "user.disabled",
    200,
    about(aUser, (id) => ["PATCH", `/v1/users/${id}`, { status: "disabled" }]),
  ),
  adminCase(
    "user.enabled",
    200,
    about(aDisabledUser, (id) => ["PATCH", `/v1/users/${id}`, { status: "active" }]),
  ),
  adminCase(
    "user.deleted",
    204,
    about(aUser, (id) => ["DELETE", `/v1/users/${id}`]),
  ),
  adminCase(
    "user.password_reset",
    200,
    about(aUser, (id) => ["POST", `/v1/users/${id}/password-reset`, {}]),
  ),
  {
    type: "user.password_changed",
    run: async (t) => {
      const u = await createUser(t.acct);
      const body = { current_password: PASSWORD, new_password: "another horse battery staple 77" };
      await t.call("POST", "/v1/me/password", { token: u.token, body }, 204);
      return selfDone(u.id);
    },
  },
  adminCase(
    "user.groups_changed",
    200,
    about(aUser, (id, t) => [
      "PUT",
      `/v1/users/${id}/groups`,
      { group_ids: [t.acct.administratorsId] },
    ]),
  ),
  adminCase(
    "invitation.created",
    201,
    creating("invitation", () => ["POST", "/v1/invitations", { email: uniqueEmail("invitee") }]),
  ),
  adminCase(
    "invitation.resent",
    200,
    about(anInvitation, (id) => ["POST", `/v1/invitations/${id}/resend`]),
  ),
  adminCase(
    "invitation.revoked",
    204,
    about(anInvitation, (id) => ["DELETE", `/v1/invitations/${id}`]),
  ),
  {
    type: "invitation.accepted",
    run: async (t) => {
      const inv = await invite(t);
      const res = await t.call(
        "POST",
        "/v1/invitations/accept",
        { body: await acceptBody(inv.email) },
        201,
      );
      return {
        actor: user(res.body.user.id),
        subject: { type: "invitation", id: inv.id },
        method: null,
      };
    },
  },
  {
    label: "user.created (by accepting an invitation)",
    type: "user.created",
    run: async (t) => {
      const inv = await invite(t);
      const id = (
        await t.call("POST", "/v1/invitations/accept", { body: await acceptBody(inv.email) }, 201)
      ).body.user.id;
      return {
        ...selfDone(id, null),
        metadata: { created_via: "invitation", created_by: t.acct.adminId, invitation_id: inv.id },
      };
    },
  },
  {
    type: "invitation.expired",
    run: async (t) => {
      await call("PATCH", "/v1/account", {
        ...admin(t),
        body: { settings: { invitation_ttl_hours: 1 } },
      });
      const inv = await invite(t);
      clock.offsetMs = 61 * MINUTE;
      await t.act(() => runCron());
      return {
        actor: { type: "system", id: null },
        subject: { type: "invitation", id: inv.id },
        method: null,
        noRequest: true,
      };
    },
  },
  adminCase(
    "group.created",
    201,
    creating("group", () => [
      "POST",
      "/v1/groups",
      { name: "Editors", grants: [{ permission: "content:write" }] },
    ]),
  ),
  adminCase(
    "group.updated",
    200,
    about(aGroup, (id) => ["PATCH", `/v1/groups/${id}`, { description: "Night shift" }]),
  ),
  adminCase(
    "group.deleted",
    204,
    about(aGroup, (id) => ["DELETE", `/v1/groups/${id}`]),
  ),
  adminCase(
    "account.plan_changed",
    200,
    async (t) => ({
      subject: { type: "account", id: t.acct.accountId },
      req: ["POST", "/v1/account/plan", { plan: "business" }],
    }),
    { metadata: () => ({ from: "enterprise", to: "business" }) },
  ),
  {
    type: "account.capacity_changed",
    run: async (t) => {
      await t.call(
        "PATCH",
        `/v1/platform/accounts/${t.acct.accountId}`,
        { token: PLATFORM_TOKEN, body: { user_limit: 25 } },
        200,
      );
      return {
        actor: { type: "platform", id: null },
        subject: { type: "account", id: t.acct.accountId },
        method: null,
      };
    },
  },
  // The free plan's three seats: the administrator and two users; the fourth is refused.
  adminCase(
    "capacity.limit_reached",
    409,
    about(
      async (t) => {
        await newUser(t);
        await newUser(t);
        return { type: "account", id: t.acct.accountId };
      },
      () => ["POST", "/v1/users", newUserBody()],
    ),
    { plan: "free", metadata: () => ({ limit: "users" }) },
  ),
  adminCase(
    "device.added",
    201,
    creating("device", async (t) => [
      "POST",
      "/v1/devices",
      { name: "Lobby 1", device_organization_id: await deviceOrg(t) },
    ]),
  ),
  adminCase(
    "device.removed",
    204,
    about(aDevice, (id) => ["DELETE", `/v1/devices/${id}`]),
  ),
  adminCase(
    "api_token.created",
    201,
    creating("api_token", () => [
      "POST",
      "/v1/api-tokens",
      { name: "deploy", permissions: ["users:read"] },
    ]),
  ),
  adminCase(
    "api_token.revoked",
    204,
    about(anApiToken, (id) => ["DELETE", `/v1/api-tokens/${id}`]),
  ),
];

let ipCounter = 0;

describe("each documented event type is written by its action", () => {
  it.each(CASES.map((c) => [c.label ?? c.type, c] as const))("%s", async (_label, c) => {
    const acct = await createAccount(c.plan ?? "enterprise");
    const ip = `198.51.100.${++ipCounter}`;
    const ua = `activity-test/1.0 (${c.label ?? c.type}; "quoted", comma)`;
    const ids = () =>
      rows<{ id: string }>(
        "SELECT id FROM activity_events WHERE account_id = ? AND type = ?",
        acct.accountId,
        c.type,
      ).then((r) => r.map((e) => e.id));
    let fresh: string[] = [];
    const act = async (fn: () => Promise<unknown>) => {
      const before = new Set(await ids());
      await fn();
      // API-token use is recorded after the response (waitUntil): wait for it, boundedly.
      fresh = (
        await until(ids, (all) => all.some((id) => !before.has(id)), `${c.type} event`)
      ).filter((id) => !before.has(id));
    };
    const request = async (method: string, path: string, opts: CallOptions, status: number) => {
      let res!: Reply;
      await act(async () => {
        res = await call(method, path, { ...opts, ip, headers: { "user-agent": ua } });
        expect(res.status, JSON.stringify(res.body)).toBe(status);
      });
      return res;
    };
    const expected = await c.run({ acct, act, call: request });
    expect(fresh).toHaveLength(1);

    const { access_token } = await login(acct.adminEmail);
    const listed = await call("GET", `/v1/activity?type=${c.type}`, { token: access_token });
    const event = listed.body.data.find((e: any) => e.id === fresh[0]);
    expect(event).toMatchObject({
      type: c.type,
      account_id: acct.accountId,
      actor: expected.actor,
      subject: expected.subject,
      method: expected.method,
      ip: expected.noRequest ? null : ip,
      user_agent: expected.noRequest ? null : ua,
    });
    if (expected.metadata) expect(event.metadata).toMatchObject(expected.metadata);
    expect(Math.abs(Date.parse(event.occurred_at) - clock.now())).toBeLessThan(5 * MINUTE);
  });

  it("auth.sso.succeeded", async () => {
    const acct = await createAccount();
    const domain = newDomain();
    await connect(acct, domain);
    const ip = `198.51.100.${++ipCounter}`;
    const ua = 'activity-test/1.0 (auth.sso.succeeded; "quoted", comma)';
    const { res } = await ssoLogin(
      `email=sso-user@${domain}`,
      { sub: `activity-${domain}`, email: `sso-user@${domain}` },
      { ip, headers: { "user-agent": ua } },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const userId = res.body.user.id;
    const listed = await call("GET", "/v1/activity?type=auth.sso.succeeded", { token: acct.token });
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).toMatchObject({
      type: "auth.sso.succeeded",
      account_id: acct.accountId,
      actor: { type: "user", id: userId },
      subject: { type: "user", id: userId },
      method: "sso",
      ip,
      user_agent: ua,
    });
  });
});

// ---- the list: filters, order, pagination ---------------------------------------------------

/** An account with varied events: logins from several addresses, failures, an API token's use, ties. */
async function busyAccount() {
  const acct = await createAccount();
  const [ipA, ipB, ipC] = ["203.0.113.10", "203.0.113.20", "203.0.113.30"];
  const u1 = await createUser(acct);
  const u2 = await createUser(acct);
  const as = (token: string, ip: string) => ({
    token,
    ip,
    headers: { "user-agent": `busy/${ip}` },
  });
  await login(u1.email, PASSWORD, ipA);
  await call("POST", "/v1/auth/login", {
    body: { email: u1.email, password: "wrong wrong wrong" },
    ip: ipB,
  });
  clock.offsetMs = MINUTE;
  await call("POST", "/v1/groups", { ...as(acct.token, ipA), body: { name: "Ops", grants: [] } });
  const tok = (
    await call("POST", "/v1/api-tokens", {
      ...as(acct.token, ipC),
      body: { name: "sync", permissions: ["users:read"] },
    })
  ).body;
  clock.offsetMs = 2 * MINUTE;
  await call("GET", "/v1/users", as(tok.token, ipC));
  await until(
    () =>
      count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'auth.api_token_used' AND actor_id = ?",
        tok.id,
      ),
    (n) => n === 1,
    "api token use",
  );
  clock.offsetMs = 3 * MINUTE;
  await call("PATCH", `/v1/users/${u2.id}`, {
    ...as(acct.token, ipB),
    body: { last_name: "Changed" },
  });
  await login(u2.email, PASSWORD, ipB);
  // Several events in one millisecond, so pages must break ties by id.
  const tie = clock.now() + MINUTE;
  await insertEvents(
    Array.from({ length: 5 }, () => ({
      accountId: acct.accountId,
      occurredAt: tie,
      type: "auth.login.failed",
      ip: ipA,
      subjectId: u2.id,
    })),
  );
  clock.offsetMs = 5 * MINUTE;
  const { access_token } = await login(acct.adminEmail, PASSWORD, ipC);
  return { acct, token: access_token, u1, u2, tok, ipA, ipB, ipC };
}

describe("GET /v1/activity", () => {
  it("answers the account's events newest first, and each filter answers exactly the matching ones", async () => {
    const b = await busyAccount();
    const other = await createAccount();
    await call("POST", "/v1/auth/login", {
      body: { email: other.adminEmail, password: "nope nope nope" },
      ip: b.ipA,
    });

    const all = await walk(b.token);
    expect(all.length).toBe(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE account_id = ?",
        b.acct.accountId,
      ),
    );
    expect(all.every((e) => e.account_id === b.acct.accountId)).toBe(true);
    expect([...all].sort(newestFirst).map((e) => e.id)).toEqual(all.map((e) => e.id));

    const times = [...new Set(all.map((e) => e.occurred_at))].sort();
    const [since, until] = [times[1]!, times.at(-3)!];
    const filters: [Record<string, string>, (e: any) => boolean][] = [
      [{ user_id: b.u1.id }, (e) => e.actor.id === b.u1.id || e.subject?.id === b.u1.id],
      [{ user_id: b.u2.id }, (e) => e.actor.id === b.u2.id || e.subject?.id === b.u2.id],
      [{ type: "auth.login.succeeded" }, (e) => e.type === "auth.login.succeeded"],
      [{ type: "auth.*" }, (e) => e.type.startsWith("auth.")],
      [{ type: "user.*" }, (e) => e.type.startsWith("user.")],
      [{ type: "api_token.*" }, (e) => e.type.startsWith("api_token.")],
      [{ type: "auth.api_token_*" }, (e) => e.type.startsWith("auth.api_token_")],
      [{ method: "password" }, (e) => e.method === "password"],
      [{ method: "api_token" }, (e) => e.method === "api_token"],
      [{ ip: b.ipA }, (e) => e.ip === b.ipA],
      [{ ip: b.ipC }, (e) => e.ip === b.ipC],
      [{ since }, (e) => e.occurred_at >= since],
      [{ until }, (e) => e.occurred_at <= until],
      [{ since, until }, (e) => e.occurred_at >= since && e.occurred_at <= until],
      [{ type: "auth.*", ip: b.ipB }, (e) => e.type.startsWith("auth.") && e.ip === b.ipB],
      [
        { user_id: b.u2.id, type: "auth.login.failed", since },
        (e) =>
          (e.actor.id === b.u2.id || e.subject?.id === b.u2.id) &&
          e.type === "auth.login.failed" &&
          e.occurred_at >= since,
      ],
    ];
    for (const [query, matches] of filters) {
      const expected = all.filter(matches).map((e) => e.id);
      expect(expected.length, JSON.stringify(query)).toBeGreaterThan(0);
      expect(expected.length, JSON.stringify(query)).toBeLessThan(all.length);
      expect(
        (await walk(b.token, { ...query, limit: 3 })).map((e) => e.id),
        JSON.stringify(query),
      ).toEqual(expected);
    }
    expect(await walk(b.token, { ip: "192.0.2.254" })).toEqual([]);
  });

  it("walks every event exactly once at any page size, ties included", async () => {
    const b = await busyAccount();
    const all = (await walk(b.token)).map((e) => e.id);
    for (const limit of [1, 2, 5, 7]) {
      const walked = (await walk(b.token, { limit })).map((e) => e.id);
      expect(walked).toEqual(all);
      expect(new Set(walked).size).toBe(walked.length);
    }
  });

  it("rejects bad filters and cursors with 422, and needs activity:read (a session's or an API token's)", async () => {
    const acct = await createAccount();
    for (const q of [
      "type=auth.%25",
      "type=AUTH.*",
      "method=magic",
      "since=yesterday",
      "until=2026-13-01T00:00:00Z",
      "limit=0",
      "limit=101",
      "cursor=bm9wZQ",
    ]) {
      expectProblem(
        await call("GET", `/v1/activity?${q}`, { token: acct.token }),
        422,
        "validation_failed",
      );
    }
    const mint = async (permissions: string[]) =>
      (
        await call("POST", "/v1/api-tokens", {
          token: acct.token,
          body: { name: "t", permissions },
        })
      ).body.token as string;
    const member = await createUser(acct);
    const reader = await createUser(acct, {
      groupIds: [await createGroup(acct, [{ permission: "activity:read" }])],
    });
    const [denied, allowed] = [
      [member.token, await mint(["users:read"])],
      [reader.token, await mint(["activity:read"])],
    ];
    for (const path of [
      "/v1/activity",
      "/v1/activity/export?format=csv",
      `/v1/users/${member.id}/activity`,
      "/v1/reports/inactive-users",
    ]) {
      for (const token of denied)
        expectProblem(await call("GET", path, { token }), 403, "forbidden");
      for (const token of allowed)
        expect((await call("GET", path, { token })).status, path).toBe(200);
    }
    const exported = await download(allowed[1]!, { format: "ndjson" });
    expect(
      exported.text
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).account_id),
    ).toContain(acct.accountId);
  });
});

describe("GET /v1/users/:id/activity", () => {
  it("answers a user's events as actor or subject, a deleted user's too; 404 for ids the account never knew", async () => {
    const b = await busyAccount();
    const other = await createAccount();
    const all = await walk(b.token);
    const trail = (id: string) =>
      all.filter((e) => e.actor.id === id || e.subject?.id === id).map((e) => e.id);
    expect(
      (await walk(b.token, { limit: 2 }, `/v1/users/${b.u1.id}/activity`)).map((e) => e.id),
    ).toEqual(trail(b.u1.id));
    expect(
      (await walk(b.token, { type: "auth.*" }, `/v1/users/${b.u2.id}/activity`)).map((e) => e.id),
    ).toEqual(
      all
        .filter(
          (e) =>
            (e.actor.id === b.u2.id || e.subject?.id === b.u2.id) && e.type.startsWith("auth."),
        )
        .map((e) => e.id),
    );

    expect((await call("DELETE", `/v1/users/${b.u2.id}`, { token: b.token })).status).toBe(204);
    const deleted = await walk(b.token, {}, `/v1/users/${b.u2.id}/activity`);
    expect(deleted[0]).toMatchObject({
      type: "user.deleted",
      subject: { type: "user", id: b.u2.id },
    });
    expect(deleted.slice(1).map((e) => e.id)).toEqual(trail(b.u2.id));

    expectProblem(
      await call("GET", `/v1/users/${other.adminId}/activity`, { token: b.token }),
      404,
      "not_found",
    );
    expectProblem(
      await call("GET", `/v1/users/${newId("user")}/activity`, { token: b.token }),
      404,
      "not_found",
    );
  });
});

describe("GET /v1/reports/inactive-users", () => {
  it("lists active users who never logged in or not within N days", async () => {
    const acct = await createAccount();
    const never = (
      await call("POST", "/v1/users", {
        token: acct.token,
        body: {
          email: uniqueEmail("never"),
          first_name: "N",
          last_name: "Ever",
          password: PASSWORD,
        },
      })
    ).body.id;
    const disabled = (
      await call("POST", "/v1/users", {
        token: acct.token,
        body: { email: uniqueEmail("off"), first_name: "O", last_name: "Ff", password: PASSWORD },
      })
    ).body.id;
    await call("PATCH", `/v1/users/${disabled}`, {
      token: acct.token,
      body: { status: "disabled" },
    });
    const early = await createUser(acct); // logs in now
    const report = async (days: number, token: string) => {
      const res = await call("GET", `/v1/reports/inactive-users?days=${days}&limit=100`, { token });
      expect(res.status).toBe(200);
      expect(res.body.days).toBe(days);
      return Object.fromEntries(res.body.data.map((u: any) => [u.id, u.never_logged_in]));
    };
    expect(await report(30, acct.token)).toEqual({ [never]: true });
    // Each row carries the user's real groups (everyone is in Members), as GET /v1/users/:id does.
    const listed = await call("GET", "/v1/reports/inactive-users?days=30", { token: acct.token });
    expect(listed.body.data.find((u: any) => u.id === never).group_ids).toEqual([acct.membersId]);

    clock.offsetMs = 29 * DAY;
    const admin = (await login(acct.adminEmail)).access_token;
    const late = await createUser({ ...acct, token: admin }); // logs in 29 days on
    expect(await report(30, admin)).toEqual({ [never]: true });
    clock.offsetMs = 30 * DAY + MINUTE;
    const admin2 = (await login(acct.adminEmail)).access_token;
    expect(await report(30, admin2)).toEqual({ [never]: true, [early.id]: false });
    expect(await report(2, admin2)).toEqual({ [never]: true, [early.id]: false });
    expect(await report(1, admin2)).toEqual({ [never]: true, [early.id]: false, [late.id]: false });
    // Paged by cursor.
    const first = await call("GET", "/v1/reports/inactive-users?days=1&limit=2", { token: admin2 });
    const second = await call(
      "GET",
      `/v1/reports/inactive-users?days=1&limit=2&cursor=${first.body.next_cursor}`,
      { token: admin2 },
    );
    expect([...first.body.data, ...second.body.data].map((u: any) => u.id).sort()).toEqual(
      [never, early.id, late.id].sort(),
    );
    expect(second.body.next_cursor).toBeNull();
    expectProblem(
      await call("GET", "/v1/reports/inactive-users?days=0", { token: admin2 }),
      422,
      "validation_failed",
    );
  });
});

// ---- export ------------------------------------------------------------------------------------

async function download(token: string, query: Record<string, string>) {
  const res = await exports.default.fetch(
    `http://api.test/v1/activity/export?${new URLSearchParams(query)}`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The CSV row an event should become: nulls as empty fields, metadata as JSON. */
const csvFields = (e: any) => ({
  id: e.id,
  type: e.type,
  occurred_at: e.occurred_at,
  account_id: e.account_id,
  actor_type: e.actor.type,
  actor_id: e.actor.id ?? "",
  subject_type: e.subject?.type ?? "",
  subject_id: e.subject?.id ?? "",
  method: e.method ?? "",
  ip: e.ip ?? "",
  user_agent: e.user_agent ?? "",
});

describe("GET /v1/activity/export", () => {
  it("CSV quotes commas, quotes and newlines so every field parses back as written", async () => {
    const acct = await createAccount();
    const first = 'Zoë "Zed", the';
    const last = 'Second\nof, "that" name';
    const u = await createUser(acct);
    const ua = 'Mozilla/5.0 (X11; "quoted", comma) Gecko';
    expect(
      (
        await call("PATCH", `/v1/users/${u.id}`, {
          token: acct.token,
          ip: "203.0.113.5",
          headers: { "user-agent": ua },
          body: { first_name: first, last_name: last },
        })
      ).status,
    ).toBe(200);
    // A stored field with a raw line break and quotes (no HTTP header can carry one).
    await insertEvents([
      {
        accountId: acct.accountId,
        occurredAt: clock.now(),
        userAgent: 'line one\r\nline "two", three',
        metadata: { note: 'a,b\n"c"' },
      },
    ]);

    const res = await download(acct.token, { format: "csv" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toMatch(
      /^attachment; filename="activity-.*\.csv"$/,
    );
    const records: Record<string, string>[] = parse(res.text, { columns: true });
    const events = await walk(acct.token);
    expect(records.map((r) => r.id)).toEqual(events.map((e) => e.id));
    records.forEach((r, i) => {
      expect(r).toMatchObject(csvFields(events[i]));
      expect(JSON.parse(r.metadata!)).toEqual(events[i].metadata);
    });
    const renamed = records.find((r) => r.type === "user.updated" && r.subject_id === u.id)!;
    expect(JSON.parse(renamed.metadata!).changes).toMatchObject({
      first_name: first,
      last_name: last,
    });
    expect(renamed.user_agent).toBe(ua);
    expect(records.find((r) => r.user_agent!.includes("\n"))!.user_agent).toBe(
      'line one\r\nline "two", three',
    );
  });

  it("CSV prefixes cells that a spreadsheet would run as formulas with a quote", async () => {
    const acct = await createAccount();
    const u = await createUser(acct);
    const formula = '=HYPERLINK("https://evil.example","click")';
    const res = await call("PATCH", `/v1/users/${u.id}`, {
      token: acct.token,
      headers: { "user-agent": formula },
      body: { first_name: "=1+1" },
    });
    expect(res.status).toBe(200);
    const stored = ["+SUM(A1)", "-2+3", "@SUM(A1)", "\tcmd", "\r=cmd", "plain =not a formula"];
    await insertEvents(
      stored.map((userAgent) => ({
        accountId: acct.accountId,
        occurredAt: clock.now(),
        userAgent,
      })),
    );

    const csv = await download(acct.token, { format: "csv" });
    expect(csv.status).toBe(200);
    const records: Record<string, string>[] = parse(csv.text, { columns: true });
    const agents = records.map((r) => r.user_agent);
    expect(agents).toContain(`'${formula}`);
    for (const ua of stored.slice(0, -1)) expect(agents).toContain(`'${ua}`);
    expect(agents).toContain("plain =not a formula");
    for (const r of records) {
      for (const cell of Object.values(r)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    }
    // The JSON export is data, not a spreadsheet: it keeps values as they are.
    const nd = await download(acct.token, { format: "ndjson" });
    const events = nd.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.user_agent)).toContain(formula);
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE account_id = ? AND user_agent = ?",
        acct.accountId,
        formula,
      ),
    ).toBeGreaterThan(0);
  });

  it("streams the whole range across many pages, as NDJSON or CSV, honouring since and until", async () => {
    const acct = await createAccount();
    const now = clock.now();
    // 1,234 events over ten days, in runs of three sharing a millisecond.
    await insertEvents(
      Array.from({ length: 1234 }, (_, i) => ({
        accountId: acct.accountId,
        occurredAt: now - 10 * DAY + Math.floor(i / 3) * 1000,
        ip: `192.0.2.${i % 200}`,
        metadata: { i },
      })),
    );
    const total = await count(
      "SELECT count(*) AS n FROM activity_events WHERE account_id = ?",
      acct.accountId,
    );
    expect(total).toBeGreaterThan(1234);
    const all = await walk(acct.token);
    expect(all).toHaveLength(total);

    const nd = await download(acct.token, { format: "ndjson" });
    expect(nd.status).toBe(200);
    expect(nd.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(nd.text.endsWith("\n")).toBe(true);
    const lines = nd.text.slice(0, -1).split("\n");
    expect(lines.map((l) => JSON.parse(l))).toEqual(all);

    const csv = parse((await download(acct.token, { format: "csv" })).text, {
      columns: true,
    }) as Record<string, string>[];
    expect(csv.map((r) => r.id)).toEqual(all.map((e) => e.id));

    const [since, until] = [all[900]!.occurred_at, all[150]!.occurred_at];
    const ranged = await download(acct.token, { format: "ndjson", since, until });
    const expected = all.filter((e) => e.occurred_at >= since && e.occurred_at <= until);
    expect(expected.length).toBeGreaterThan(500);
    expect(
      ranged.text
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual(expected);
  });
});

// ---- the cron: retention and re-sending -------------------------------------------------------------

describe("the cron", () => {
  it("prunes events past the retention (400 days by default) and never touches younger ones", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const now = clock.now();
    const old = await insertEvents([
      ...Array.from({ length: 2500 }, (_, i) => ({
        accountId: acct.accountId,
        occurredAt: now - 401 * DAY - i,
      })),
      { accountId: acct.accountId, occurredAt: now - 400 * DAY - MINUTE },
      ...Array.from({ length: 3 }, () => ({
        accountId: other.accountId,
        occurredAt: now - 500 * DAY,
      })),
    ]);
    await insertEvents([
      { accountId: acct.accountId, occurredAt: now - 400 * DAY + 10 * MINUTE },
      { accountId: acct.accountId, occurredAt: now - 399 * DAY },
      { accountId: acct.accountId, occurredAt: now - DAY },
      { accountId: other.accountId, occurredAt: now - 30 * DAY },
    ]);
    // streamed_at is left out: the cron and the queue consumer mark events as streamed at any
    // moment, which is not a change to the event.
    const kept = async () =>
      (
        await rows(
          `SELECT * FROM activity_events WHERE account_id IN (?, ?) AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id`,
          acct.accountId,
          other.accountId,
          JSON.stringify(old),
        )
      ).map(({ streamed_at: _, ...event }) => event);
    const before = await kept();
    expect(before.length).toBeGreaterThan(4);

    await runCron();
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE id IN (SELECT value FROM json_each(?))",
        JSON.stringify(old),
      ),
    ).toBe(0);
    expect(await kept()).toEqual(before);
  });

  it("honours ACTIVITY_RETENTION_DAYS, and falls back to 400 days when it is not a whole number", async () => {
    const acct = await createAccount();
    const now = clock.now();
    const [d100, d31, d29] = await insertEvents(
      [100, 31, 29].map((days) => ({ accountId: acct.accountId, occurredAt: now - days * DAY })),
    );
    const present = async () =>
      (
        await rows<{ id: string }>(
          "SELECT id FROM activity_events WHERE id IN (?, ?, ?) ORDER BY occurred_at",
          d100,
          d31,
          d29,
        )
      ).map((r) => r.id);
    await runCron({ ...env, ACTIVITY_RETENTION_DAYS: "thirty" } as unknown as Bindings);
    expect(await present()).toEqual([d100, d31, d29]);
    await runCron({ ...env, ACTIVITY_RETENTION_DAYS: "30" } as unknown as Bindings);
    expect(await present()).toEqual([d29]);
  });

  it("re-sends events the stream has not marked after a few minutes, and the consumer marks them", async () => {
    const acct = await createAccount();
    const hook = await call("POST", "/v1/webhooks", {
      token: acct.token,
      body: { url: "http://127.0.0.1:9/hook", events: ["user.updated"] },
    });
    const now = clock.now();
    // The endpoint existed before the events below (an endpoint does not receive the past).
    await env.DB.prepare("UPDATE webhook_endpoints SET created_at = ? WHERE id = ?")
      .bind(now - 60 * MINUTE, hook.body.id)
      .run();
    const [stale, recent] = await insertEvents([
      { accountId: acct.accountId, occurredAt: now - 10 * MINUTE, streamedAt: null },
      { accountId: acct.accountId, occurredAt: now - 30 * 1000, streamedAt: null },
    ]);
    // The real queue, with a record of what the cron hands it.
    const sent: any[] = [];
    const EVENTS = {
      send: (body: unknown, opts?: QueueSendOptions) => {
        sent.push(body);
        return env.EVENTS.send(body, opts);
      },
      sendBatch: (messages: MessageSendRequest[], opts?: QueueSendBatchOptions) => {
        sent.push(...messages.map((m) => m.body));
        return env.EVENTS.sendBatch(messages, opts);
      },
    };
    await runCron({ ...env, EVENTS } as unknown as Bindings);
    const ids = sent.map((m) => m.id);
    expect(ids).toContain(stale);
    expect(ids).not.toContain(recent);
    expect(sent.find((m) => m.id === stale)).toEqual({
      kind: "event",
      id: stale,
      account_id: acct.accountId,
    });

    const batch = createMessageBatch(
      "user-events",
      sent
        .filter((m) => m.id === stale)
        .map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, env as unknown as Bindings, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(
      batch.messages.map((m) => m.id),
    );
    const streamed = await rows(
      "SELECT id, streamed_at FROM activity_events WHERE id IN (?, ?) ORDER BY occurred_at",
      stale,
      recent,
    );
    expect(streamed[0]!.streamed_at).not.toBeNull();
    expect(streamed[1]!.streamed_at).toBeNull();
    expect(
      await count(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
        hook.body.id,
        stale,
      ),
    ).toBe(1);

    // Later the other one is due too; this time the background consumer takes the cron's message.
    clock.offsetMs = 3 * MINUTE;
    await runCron();
    await until(
      () => rows("SELECT streamed_at FROM activity_events WHERE id = ?", recent),
      (r) => r[0]!.streamed_at !== null,
      "the re-sent event to be streamed",
    );
    expect(
      await count(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
        hook.body.id,
        recent,
      ),
    ).toBe(1);
  });
});

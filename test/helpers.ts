/** Test helpers: every call goes through the Worker's real fetch handler with real bindings. */

import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { Bindings } from "../src/context";
import worker from "../src/index";
import { clock } from "../src/lib/clock";

export const PLATFORM_TOKEN = "test-platform-token";
export const PASSWORD = "correct horse battery staple 42";

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is, without JSON encoding. */
  raw?: BodyInit;
  headers?: Record<string, string>;
  ip?: string;
}

export async function call<T = any>(
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.ip) headers["cf-connecting-ip"] = opts.ip;
  let body: BodyInit | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  // Redirects are answers to check (Team Login), not to follow back into the worker.
  const res = await exports.default.fetch(`http://api.test${path}`, {
    method,
    headers,
    body,
    redirect: "manual",
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

let counter = 0;
export const uniqueEmail = (label = "user") =>
  `${label}-${Date.now().toString(36)}-${++counter}@example.com`;

export interface TestAccount {
  accountId: string;
  adminId: string;
  adminEmail: string;
  token: string;
  refreshToken: string;
  administratorsId: string;
  membersId: string;
}

export async function login(email: string, password = PASSWORD, ip?: string) {
  const res = await call("POST", "/v1/auth/login", { body: { email, password }, ip });
  if (res.status !== 200)
    throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as {
    access_token: string;
    refresh_token: string;
    user: any;
    must_change_password: boolean;
  };
}

export async function createAccount(
  plan = "enterprise",
  name = "Acme Signage",
): Promise<TestAccount> {
  const adminEmail = uniqueEmail("admin");
  const res = await call("POST", "/v1/platform/accounts", {
    token: PLATFORM_TOKEN,
    body: { name, plan, admin_email: adminEmail, admin_password: PASSWORD },
  });
  if (res.status !== 201)
    throw new Error(`account creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  const session = await login(adminEmail);
  const groups = await call("GET", "/v1/groups", { token: session.access_token });
  const byName = (n: string) => groups.body.data.find((g: any) => g.name === n).id as string;
  return {
    accountId: res.body.account.id,
    adminId: res.body.admin.id,
    adminEmail,
    token: session.access_token,
    refreshToken: session.refresh_token,
    administratorsId: byName("Administrators"),
    membersId: byName("Members"),
  };
}

/** Creates a user with a password and logs it in. */
export async function createUser(
  admin: TestAccount,
  opts: { groupIds?: string[]; email?: string } = {},
) {
  const email = opts.email ?? uniqueEmail();
  const res = await call("POST", "/v1/users", {
    token: admin.token,
    body: {
      email,
      first_name: "Test",
      last_name: "User",
      password: PASSWORD,
      ...(opts.groupIds ? { group_ids: opts.groupIds } : {}),
    },
  });
  if (res.status !== 201)
    throw new Error(`user creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  const session = await login(email);
  return {
    id: res.body.id as string,
    email,
    token: session.access_token,
    refreshToken: session.refresh_token,
  };
}

/** A group with the given grants, for permission tests. */
export async function createGroup(
  admin: TestAccount,
  grants: { permission: string; scope?: unknown }[],
  name = `g-${++counter}`,
) {
  const res = await call("POST", "/v1/groups", { token: admin.token, body: { name, grants } });
  if (res.status !== 201)
    throw new Error(`group creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

/** Rows straight from D1, for asserting on stored state. */
export async function rows<T = Record<string, any>>(
  query: string,
  ...params: unknown[]
): Promise<T[]> {
  return (
    await env.DB.prepare(query)
      .bind(...params)
      .all<T>()
  ).results;
}

/** A `SELECT count(*) AS n …` as a number. */
export const count = async (query: string, ...params: unknown[]) =>
  Number((await rows<{ n: number }>(query, ...params))[0]!.n);

/**
 * The usage counts the triggers keep (`account_usage`) equal a recount of the rows: active
 * users, pending invitations (whatever their expiry) and devices.
 */
export async function expectUsageKept(accountId: string) {
  const [kept] = await rows(
    "SELECT active_users, pending_invitations, devices FROM account_usage WHERE account_id = ?",
    accountId,
  );
  const [counted] = await rows(
    `SELECT (SELECT count(*) FROM users WHERE account_id = ?1 AND status = 'active') AS active_users,
       (SELECT count(*) FROM invitations WHERE account_id = ?1 AND status = 'pending') AS pending_invitations,
       (SELECT count(*) FROM devices WHERE account_id = ?1) AS devices`,
    accountId,
  );
  expect(kept).toEqual(counted);
}

/** An RFC 9457 problem with the given status and catalogue code, every member present. */
export function expectProblem(res: Reply, status: number, code: string) {
  expect({ status: res.status, code: (res.body as any)?.code }, JSON.stringify(res.body)).toEqual({
    status,
    code,
  });
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    type: expect.stringMatching(/\S/),
    title: expect.stringMatching(/\S/),
    status,
    detail: expect.stringMatching(/\S/),
    code,
  });
}

/** Waits, boundedly, until `read` gives something `ok` accepts (for work the runtime does in the background). */
export async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A mail kept in the development outbox (GET /v1/dev/outbox). */
export interface Mail {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  tag: string;
  sent_at: string;
}

/** The development outbox for one recipient, newest first. */
export async function outbox(to: string): Promise<Mail[]> {
  const res = await call<{ data: Mail[] }>(
    "GET",
    `/v1/dev/outbox?to=${encodeURIComponent(to)}&limit=100`,
    { token: PLATFORM_TOKEN },
  );
  expect(res.status).toBe(200);
  return res.body.data;
}

/**
 * The one mail that arrived for `to` since `before` was read, waiting for it: mail sent
 * from a queue (invitations) arrives after the answer.
 */
export async function newMail(to: string, before: Mail[]): Promise<Mail> {
  const known = new Set(before.map((m) => m.id));
  const fresh = await until(
    async () => (await outbox(to)).filter((m) => !known.has(m.id)),
    (mails) => mails.length > 0,
    `mail to ${to}`,
  );
  expect(fresh).toHaveLength(1);
  return fresh[0]!;
}

let ipCounter = 0;
/** A source address no other test has used, so throttling windows never cross tests. */
export const freshIp = () => `198.18.${Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;

/** Runs the cron once, at the test clock's time, and waits for everything it started. */
export async function runCron(bindings: Bindings = env as unknown as Bindings) {
  const ctx = createExecutionContext();
  await worker.scheduled(
    createScheduledController({ cron: "*/5 * * * *", scheduledTime: clock.now() }),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
}

/**
 * A self-service reset to the end: POST /v1/password/forgot (waiting for the mail it sends
 * after the response), then POST /v1/password/reset with the mailed token.
 */
export async function forgotAndReset(
  email: string,
  newPassword = "a freshly chosen passphrase 2024",
) {
  const ctx = createExecutionContext();
  const before = await outbox(email);
  const res = await worker.fetch(
    new Request("http://api.test/v1/password/forgot", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": freshIp() },
      body: JSON.stringify({ email }),
    }),
    env as unknown as Bindings,
    ctx,
  );
  expect(res.status).toBe(202);
  await waitOnExecutionContext(ctx);
  const mail = await newMail(email, before);
  const prefix = `${env.APP_URL.replace(/\/$/, "")}/reset-password?token=`;
  const at = mail.text.indexOf(prefix);
  expect(at).toBeGreaterThanOrEqual(0);
  const token = decodeURIComponent(/^[^\s"'<>&]+/.exec(mail.text.slice(at + prefix.length))![0]);
  return call("POST", "/v1/password/reset", { body: { token, new_password: newPassword } });
}

export const SCIM_JSON = "application/scim+json";

/** A SCIM token of the account, made by its administrator. */
export async function createScimToken(acct: TestAccount, name = "Identity provider") {
  const res = await call("POST", "/v1/scim-tokens", { token: acct.token, body: { name } });
  if (res.status !== 201)
    throw new Error(`SCIM token creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id as string, token: res.body.token as string };
}

/** A call to /scim/v2, its body sent as application/scim+json like identity providers do. */
export function scim<T = any>(
  method: string,
  path: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return call<T>(method, `/scim/v2${path}`, {
    token,
    body,
    headers: body === undefined ? headers : { "content-type": SCIM_JSON, ...headers },
  });
}

/** A SCIM error (RFC 7644 §3.12) with the given status and, when given, scimType. */
export function expectScimError(res: Reply, status: number, scimType?: string) {
  expect({ status: res.status, body: res.body }).toMatchObject({
    status,
    body: {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
      status: String(status),
      detail: expect.stringMatching(/\S/),
      ...(scimType ? { scimType } : {}),
    },
  });
  expect(res.headers.get("content-type")).toMatch(/^application\/scim\+json/);
}

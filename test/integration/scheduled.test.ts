import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  count,
  createAccount,
  createUser,
  freshIp,
  login,
  newMail,
  outbox,
  PASSWORD,
  rows,
  runCron,
  uniqueEmail,
  until,
} from "../helpers";

afterEach(() => {
  clock.offsetMs = 0;
});

it("the cron marks due invitations expired once, with one invitation.expired each, and leaves others alone", async () => {
  const acct = await createAccount();
  await call("PATCH", "/v1/account", {
    token: acct.token,
    body: { settings: { invitation_ttl_hours: 1 } },
  });
  const due = await call("POST", "/v1/invitations", {
    token: acct.token,
    body: { email: uniqueEmail("due") },
  });
  clock.offsetMs = 30 * 60 * 1000;
  const { access_token } = await login(acct.adminEmail);
  const fresh = await call("POST", "/v1/invitations", {
    token: access_token,
    body: { email: uniqueEmail("fresh") },
  });
  expect(fresh.status).toBe(201);
  clock.offsetMs = 61 * 60 * 1000;

  await runCron();
  await runCron();

  const rows = await env.DB.prepare(
    "SELECT id, status FROM invitations WHERE account_id = ? ORDER BY id",
  )
    .bind(acct.accountId)
    .all();
  expect(rows.results).toEqual([
    { id: due.body.id, status: "expired" },
    { id: fresh.body.id, status: "pending" },
  ]);
  const events = await env.DB.prepare(
    "SELECT subject_id, actor_type FROM activity_events WHERE type = 'invitation.expired' AND account_id = ?",
  )
    .bind(acct.accountId)
    .all();
  expect(events.results).toEqual([{ subject_id: due.body.id, actor_type: "system" }]);
});

it("the cron puts long-overdue deliveries back on the queue, and the consumer attempts them", async () => {
  const acct = await createAccount();
  const endpoint = await call("POST", "/v1/webhooks", {
    token: acct.token,
    body: { url: "http://127.0.0.1:9/hook", events: ["group.created"] },
  });
  expect(endpoint.status).toBe(201);
  const deliveryId = "dlv_01m8stalledstalledstalle0";
  const old = clock.now() - 60 * 60 * 1000;
  await env.DB.prepare(
    `INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at, updated_at)
     VALUES (?, ?, ?, 'evt_01m8stalledstalledstalle0', 'group.created', '{}', 'pending', 0, ?, ?, ?)`,
  )
    .bind(deliveryId, acct.accountId, endpoint.body.id, old, old, old)
    .run();

  await runCron();

  // The queue hands the message to the consumer in the background: wait, boundedly, for its attempt.
  const attempts = await until(
    () => count("SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?", deliveryId),
    (n) => n > 0,
    "the re-queued delivery's attempt",
  );
  expect(attempts).toBe(1);
  const delivery = await env.DB.prepare(
    "SELECT attempts, status, last_error FROM webhook_deliveries WHERE id = ?",
  )
    .bind(deliveryId)
    .first<{ attempts: number; status: string; last_error: string }>();
  expect(delivery).toMatchObject({ attempts: 1, status: "pending" });
  expect(delivery?.last_error).toBeTruthy();
});

describe("the cron prunes what has expired", () => {
  const MINUTE = 60_000;
  const DAY = 24 * 60 * MINUTE;
  const exists = async (table: string, column: string, value: string) =>
    (await count(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`, value)) === 1;

  it("unclaimed pairing codes once expired; claimed ones stay", async () => {
    const acct = await createAccount();
    const org = await call("POST", "/v1/device-organizations", {
      token: acct.token,
      body: { name: "Hall" },
    });
    const code = async () =>
      (
        (await call("POST", "/v1/device-pairings/code", { ip: freshIp() })).body
          .pairing_code as string
      ).replace("-", "");
    const unclaimed = await code();
    const claimed = await code();
    const paired = await call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: claimed, name: "Hall 1", device_organization_id: org.body.id },
    });
    expect(paired.status).toBe(201);
    clock.offsetMs = 11 * MINUTE;
    const fresh = await code();

    await runCron();
    expect(await exists("device_pairings", "code", unclaimed)).toBe(false);
    expect(await exists("device_pairings", "code", claimed)).toBe(true);
    expect(await exists("device_pairings", "code", fresh)).toBe(true);
  });

  it("throttle counters once their window has passed", async () => {
    const acct = await createAccount();
    const ip = freshIp();
    const wrong = (from: string) =>
      call("POST", "/v1/auth/login", {
        body: { email: acct.adminEmail, password: "wrong wrong wrong" },
        ip: from,
      });
    expect((await wrong(ip)).status).toBe(401);
    const pairKey = `pair:${acct.adminEmail}|${ip}`;
    expect(await exists("login_throttle", "key", pairKey)).toBe(true);
    clock.offsetMs = 61 * MINUTE;
    const laterIp = freshIp();
    expect((await wrong(laterIp)).status).toBe(401);

    await runCron();
    expect(await exists("login_throttle", "key", pairKey)).toBe(false);
    expect(await exists("login_throttle", "key", `ip:${ip}`)).toBe(false);
    expect(await exists("login_throttle", "key", `pair:${acct.adminEmail}|${laterIp}`)).toBe(true);
  });

  it("sessions past their idle or absolute limit, and revoked ones after 30 days, with their refresh tokens", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const sid = async (token: string) =>
      (await call("GET", "/v1/me", { token })).body.authenticated_via.id as string;
    const idle = await login(user.email, PASSWORD, freshIp());
    const idleSid = await sid(idle.access_token);
    let kept = await login(user.email, PASSWORD, freshIp());
    const keptSid = await sid(kept.access_token);
    const ended = await login(user.email, PASSWORD, freshIp());
    const endedSid = await sid(ended.access_token);
    expect((await call("POST", "/v1/auth/logout", { token: ended.access_token })).status).toBe(204);
    const tokensOf = (id: string) =>
      count("SELECT count(*) AS n FROM refresh_tokens WHERE session_id = ?", id);

    clock.offsetMs = 6 * DAY;
    const refreshed = await call("POST", "/v1/auth/refresh", {
      body: { refresh_token: kept.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    kept = { ...kept, ...refreshed.body };
    clock.offsetMs = 8 * DAY;
    await runCron();
    expect(await exists("sessions", "id", idleSid)).toBe(false);
    expect(await tokensOf(idleSid)).toBe(0);
    expect(await exists("sessions", "id", keptSid)).toBe(true);
    expect(await tokensOf(keptSid)).toBe(2);
    // Revoked eight days ago: kept a while yet.
    expect(await exists("sessions", "id", endedSid)).toBe(true);

    // Kept in use, but past its 30-day limit; the revoked one past 30 days since its end.
    clock.offsetMs = 12 * DAY;
    expect(
      (await call("POST", "/v1/auth/refresh", { body: { refresh_token: kept.refresh_token } }))
        .status,
    ).toBe(200);
    clock.offsetMs = 30 * DAY + MINUTE;
    await runCron();
    for (const id of [keptSid, endedSid]) {
      expect(await exists("sessions", "id", id)).toBe(false);
      expect(await tokensOf(id)).toBe(0);
    }
  });

  it("used and superseded mailed links at once, expired ones a week after expiry", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const mailLink = async () => {
      const before = await outbox(user.email);
      const res = await call("POST", `/v1/users/${user.id}/password-reset`, {
        token: acct.token,
        body: { method: "email" },
      });
      expect(res.status).toBe(202);
      const mail = await newMail(user.email, before);
      return decodeURIComponent(/reset-password\?token=([^\s"'<>&]+)/.exec(mail.text)![1]!);
    };
    const tokenIds = async () =>
      (await rows("SELECT id FROM user_tokens WHERE user_id = ?", user.id)).map(
        (r) => r.id as string,
      );
    await mailLink();
    const used = await mailLink();
    expect(await tokenIds()).toHaveLength(2);
    const reset = await call("POST", "/v1/password/reset", {
      body: { token: used, new_password: "another good passphrase 99" },
    });
    expect(reset.status).toBe(204);
    const before = await tokenIds();
    await mailLink();
    const [expiringId] = (await tokenIds()).filter((id) => !before.includes(id));

    await runCron();
    expect(await tokenIds()).toEqual([expiringId]);

    // An expired link stays a week, so a late click still hears that it expired.
    clock.offsetMs = 2 * 60 * MINUTE;
    await runCron();
    expect(await tokenIds()).toEqual([expiringId]);
    clock.offsetMs = 7 * DAY + 2 * 60 * MINUTE;
    await runCron();
    expect(await tokenIds()).toEqual([]);
  });
});

it("the cron prunes webhook deliveries, with their attempts, past the activity retention", async () => {
  const acct = await createAccount();
  const other = await createAccount();
  const endpointOf = async (a: typeof acct) => {
    const res = await call("POST", "/v1/webhooks", {
      token: a.token,
      body: { url: "http://127.0.0.1:9/hook", events: ["group.created"] },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const [mine, theirs] = [await endpointOf(acct), await endpointOf(other)];
  const DAY = 24 * 60 * 60 * 1000;
  const now = clock.now();
  const deliveries: [string, string, string, number][] = [
    ["dlv_01m8pruneoldoldoldoldold0", acct.accountId, mine, now - 401 * DAY],
    ["dlv_01m8pruneoldoldoldoldold1", other.accountId, theirs, now - 500 * DAY],
    ["dlv_01m8prunekeptkeptkeptkep0", acct.accountId, mine, now - 399 * DAY],
    ["dlv_01m8prunekeptkeptkeptkep1", other.accountId, theirs, now - DAY],
  ];
  for (const [id, accountId, endpointId, at] of deliveries) {
    await env.DB.prepare(
      `INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'group.created', '{}', 'failed', 1, NULL, ?, ?)`,
    )
      .bind(id, accountId, endpointId, `evt_${id.slice(4)}`, at, at)
      .run();
    await env.DB.prepare(
      `INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, error, duration_ms)
       VALUES (?, 1, ?, 500, 'refused', 5)`,
    )
      .bind(id, at)
      .run();
  }
  const present = async (table: string, column: string) =>
    (
      await rows<{ id: string }>(
        `SELECT ${column} AS id FROM ${table} WHERE ${column} IN (SELECT value FROM json_each(?)) ORDER BY ${column}`,
        JSON.stringify(deliveries.map((d) => d[0])),
      )
    ).map((r) => r.id);

  await runCron();
  const kept = deliveries.slice(2).map((d) => d[0]);
  expect(await present("webhook_deliveries", "id")).toEqual(kept);
  expect(await present("webhook_attempts", "delivery_id")).toEqual(kept);
});

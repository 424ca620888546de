import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import { call, count, createAccount, login, runCron, uniqueEmail, until } from "../helpers";

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

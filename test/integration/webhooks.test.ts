/**
 * Webhooks: endpoints and their secret, the stream consumer's idempotency, retries with
 * growing delays, disabling after repeated failure, the delivery log and test sends.
 *
 * The consumer is driven here by calling the worker's queue handler; miniflare also
 * delivers what the worker sends to EVENTS in the background, so each step waits for the
 * attempt it caused, whoever made it. Deliveries go to a closed local port (allowed in
 * development) and fail with a connection error; a receiver that verifies signatures
 * lives in the end-to-end suite.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import { clock } from "../../src/lib/clock";
import { newId } from "../../src/lib/ids";
import { retryDelaySeconds } from "../../src/webhooks/delivery";
import {
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  login,
  rows,
  type TestAccount,
  until,
} from "../helpers";

const CLOSED = "http://127.0.0.1:9/hook";
const HOUR = 60 * 60 * 1000;

afterEach(() => {
  clock.offsetMs = 0;
});

const one = async <T = Record<string, any>>(sql: string, ...params: unknown[]) =>
  (await rows<T>(sql, ...params))[0]!;

/** One batch through the worker's queue handler; answers what it acked and retried. */
async function consume(...bodies: unknown[]) {
  const batch = createMessageBatch(
    "user-events",
    bodies.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env as unknown as Bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ids: batch.messages.map((m) => m.id), ...result };
}

const eventMessage = (e: { id: string; account_id: string }) => ({
  kind: "event",
  id: e.id,
  account_id: e.account_id,
});
const deliverMessage = (deliveryId: string, attempt: number) => ({
  kind: "deliver",
  delivery_id: deliveryId,
  attempt,
});

async function addEndpoint(acct: TestAccount, events: string[] = ["group.created"], url = CLOSED) {
  const res = await call("POST", "/v1/webhooks", { token: acct.token, body: { url, events } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string; url: string; events: string[] };
}

/** A real group.created event of the account. */
async function groupEvent(acct: TestAccount) {
  const res = await call("POST", "/v1/groups", {
    token: acct.token,
    body: { name: `g-${crypto.randomUUID().slice(0, 8)}`, grants: [] },
  });
  expect(res.status).toBe(201);
  return one<{ id: string; account_id: string }>(
    "SELECT id, account_id FROM activity_events WHERE type = 'group.created' AND subject_id = ?",
    res.body.id,
  );
}

const attemptsOf = (deliveryId: string) =>
  rows("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt", deliveryId);
const endpointRow = (id: string) => one("SELECT * FROM webhook_endpoints WHERE id = ?", id);

/** Fans the event out (ourselves) and answers the endpoint's delivery of it. */
async function fanOut(event: { id: string; account_id: string }, endpointId: string) {
  const result = await consume(eventMessage(event));
  expect(result.explicitAcks).toEqual(result.ids);
  const [delivery, ...more] = await rows(
    "SELECT * FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
    endpointId,
    event.id,
  );
  expect(more).toEqual([]);
  return delivery!;
}

/** Makes attempt `n` (at its scheduled time) and waits until its row is written, by us or the background consumer. */
async function attempt(deliveryId: string, n: number) {
  const before = await one("SELECT * FROM webhook_deliveries WHERE id = ?", deliveryId);
  if (n > 1) clock.offsetMs = before.next_attempt_at - Date.now();
  const result = await consume(deliverMessage(deliveryId, n));
  expect(result.explicitAcks).toEqual(result.ids);
  const attempts = await until(
    () => attemptsOf(deliveryId),
    (a) => a.length >= n,
    `attempt ${n} of ${deliveryId}`,
  );
  expect(attempts.map((a) => a.attempt)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  return {
    delivery: await one("SELECT * FROM webhook_deliveries WHERE id = ?", deliveryId),
    row: attempts[n - 1]!,
  };
}

describe("webhook endpoints", () => {
  it("POST answers the whsec_ secret once; listing never shows it; the change is recorded", async () => {
    const acct = await createAccount();
    const res = await call("POST", "/v1/webhooks", {
      token: acct.token,
      body: {
        url: CLOSED,
        events: ["user.created", "group.created", "user.created"],
        description: "CRM sync",
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      url: CLOSED,
      events: ["user.created", "group.created"],
      description: "CRM sync",
      status: "enabled",
      disabled_reason: null,
      consecutive_failures: 0,
    });
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(atob(res.body.secret.slice("whsec_".length)).length).toBeGreaterThanOrEqual(24);

    const listed = await call("GET", "/v1/webhooks", { token: acct.token });
    expect(listed.status).toBe(200);
    const { secret, ...shown } = res.body;
    expect(listed.body).toEqual({ data: [shown], next_cursor: null });
    expect(JSON.stringify(listed.body)).not.toContain(secret.slice("whsec_".length));
    expect((await endpointRow(res.body.id)).secret).toBe(secret);

    const [event] = await rows(
      "SELECT * FROM activity_events WHERE type = 'webhook.created' AND subject_id = ?",
      res.body.id,
    );
    expect(event).toMatchObject({
      account_id: acct.accountId,
      actor_type: "user",
      actor_id: acct.adminId,
      subject_type: "webhook_endpoint",
    });
    expect(JSON.stringify(event)).not.toContain(secret.slice("whsec_".length));
  });

  it("refuses unknown event types, empty filters and bad URLs with 422, storing nothing", async () => {
    const acct = await createAccount();
    const bad: [unknown, string][] = [
      [{ url: CLOSED, events: ["user.exploded"] }, "events"],
      [{ url: CLOSED, events: ["user.created", "*", "auth.*"] }, "events"],
      [{ url: CLOSED, events: [] }, "events"],
      [{ url: CLOSED }, "events"],
      [{ url: "not a url", events: ["*"] }, "url"],
      [{ url: "ftp://127.0.0.1/hook", events: ["*"] }, "url"],
      [{ url: "http://user:secret@127.0.0.1:9/hook", events: ["*"] }, "url"],
      [{ url: CLOSED, events: ["*"], secret: "whsec_mine" }, ""],
    ];
    for (const [body, path] of bad) {
      const res = await call("POST", "/v1/webhooks", { token: acct.token, body });
      expectProblem(res, 422, "validation_failed");
      if (path)
        expect(
          res.body.errors.map((e: any) => e.path.split(".")[0]),
          JSON.stringify(body),
        ).toContain(path);
    }
    expect(
      await count(
        "SELECT count(*) AS n FROM webhook_endpoints WHERE account_id = ?",
        acct.accountId,
      ),
    ).toBe(0);
    expect(
      (
        await call("POST", "/v1/webhooks", {
          token: acct.token,
          body: { url: CLOSED, events: ["*"] },
        })
      ).status,
    ).toBe(201);
  });

  it("PATCH changes url, events, description and status; DELETE removes the endpoint", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const patch = (body: unknown) =>
      call("PATCH", `/v1/webhooks/${hook.id}`, { token: acct.token, body });

    const changed = await patch({
      url: "http://127.0.0.1:9/other",
      events: ["user.deleted", "*"],
      description: "ops",
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      id: hook.id,
      url: "http://127.0.0.1:9/other",
      events: ["user.deleted", "*"],
      description: "ops",
    });
    expect(changed.body).not.toHaveProperty("secret");
    expectProblem(await patch({ events: ["nope.never"] }), 422, "validation_failed");
    expectProblem(await patch({ url: "gopher://127.0.0.1/" }), 422, "validation_failed");
    expect((await endpointRow(hook.id)).url).toBe("http://127.0.0.1:9/other");

    const off = await patch({ status: "disabled" });
    expect(off.body).toMatchObject({ status: "disabled", disabled_reason: "manual" });
    expect(off.body.disabled_at).not.toBeNull();
    await env.DB.prepare("UPDATE webhook_endpoints SET consecutive_failures = 4 WHERE id = ?")
      .bind(hook.id)
      .run();
    const on = await patch({ status: "enabled" });
    expect(on.body).toMatchObject({
      status: "enabled",
      disabled_reason: null,
      disabled_at: null,
      consecutive_failures: 0,
    });
    expect((await call("GET", "/v1/webhooks", { token: acct.token })).body.data).toEqual([on.body]);

    expect((await call("DELETE", `/v1/webhooks/${hook.id}`, { token: acct.token })).status).toBe(
      204,
    );
    expect((await call("GET", "/v1/webhooks", { token: acct.token })).body.data).toEqual([]);
    expectProblem(
      await call("DELETE", `/v1/webhooks/${hook.id}`, { token: acct.token }),
      404,
      "not_found",
    );
    expectProblem(await patch({ description: "x" }), 404, "not_found");
    expectProblem(
      await call("GET", `/v1/webhooks/${hook.id}/deliveries`, { token: acct.token }),
      404,
      "not_found",
    );
    const types = (
      await rows<{ type: string }>(
        "SELECT type FROM activity_events WHERE subject_id = ? ORDER BY occurred_at, rowid",
        hook.id,
      )
    ).map((r) => r.type);
    expect(types).toEqual([
      "webhook.created",
      "webhook.updated",
      "webhook.updated",
      "webhook.updated",
      "webhook.deleted",
    ]);
  });

  it("rotate-secret answers a new secret once and keeps the old one signing for 24 hours", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const res = await call("POST", `/v1/webhooks/${hook.id}/rotate-secret`, { token: acct.token });
    expect(res.status).toBe(200);
    expect(res.body.secret).toMatch(/^whsec_/);
    expect(res.body.secret).not.toBe(hook.secret);
    expect(Date.parse(res.body.previous_secret_expires_at) - Date.parse(res.body.updated_at)).toBe(
      24 * HOUR,
    );
    const stored = await endpointRow(hook.id);
    expect(stored).toMatchObject({ secret: res.body.secret, previous_secret: hook.secret });
    const listed = JSON.stringify((await call("GET", "/v1/webhooks", { token: acct.token })).body);
    for (const s of [hook.secret, res.body.secret])
      expect(listed).not.toContain(s.slice("whsec_".length));
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'webhook.secret_rotated' AND subject_id = ?",
        hook.id,
      ),
    ).toBe(1);
  });

  it("another account's endpoint is not found, and stays as it was", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const hook = await addEndpoint(other);
    const before = await endpointRow(hook.id);
    const as = { token: acct.token };
    expectProblem(
      await call("PATCH", `/v1/webhooks/${hook.id}`, { ...as, body: { description: "mine now" } }),
      404,
      "not_found",
    );
    expectProblem(await call("DELETE", `/v1/webhooks/${hook.id}`, as), 404, "not_found");
    expectProblem(
      await call("POST", `/v1/webhooks/${hook.id}/rotate-secret`, as),
      404,
      "not_found",
    );
    expectProblem(await call("GET", `/v1/webhooks/${hook.id}/deliveries`, as), 404, "not_found");
    expectProblem(await call("POST", `/v1/webhooks/${hook.id}/test`, as), 404, "not_found");
    expect((await call("GET", "/v1/webhooks", as)).body.data).toEqual([]);
    expect(await endpointRow(hook.id)).toEqual(before);
    expect(
      await count("SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?", hook.id),
    ).toBe(0);
  });

  it("requires webhooks:manage, from a session or an API token", async () => {
    const acct = await createAccount();
    const member = await createUser(acct);
    const manager = await createUser(acct, {
      groupIds: [await createGroup(acct, [{ permission: "webhooks:manage" }])],
    });
    // Added after the group: it receives no event of this test, so no delivery races the checks.
    const hook = await addEndpoint(acct);
    const tokenOf = async (permissions: string[]) =>
      (
        await call("POST", "/v1/api-tokens", {
          token: acct.token,
          body: { name: permissions.join(" "), permissions },
        })
      ).body.token as string;
    const readOnly = await tokenOf(["users:read", "activity:read"]);
    const managing = await tokenOf(["webhooks:manage"]);
    const requests: [string, string, unknown?][] = [
      ["GET", "/v1/webhooks"],
      ["POST", "/v1/webhooks", { url: CLOSED, events: ["*"] }],
      ["PATCH", `/v1/webhooks/${hook.id}`, { description: "x" }],
      ["POST", `/v1/webhooks/${hook.id}/rotate-secret`],
      ["GET", `/v1/webhooks/${hook.id}/deliveries`],
      ["POST", `/v1/webhooks/${hook.id}/test`],
      ["DELETE", `/v1/webhooks/${hook.id}`],
    ];
    const before = await endpointRow(hook.id);
    for (const token of [member.token, readOnly]) {
      for (const [method, path, body] of requests)
        expectProblem(await call(method, path, { token, body }), 403, "forbidden");
    }
    expect(await endpointRow(hook.id)).toEqual(before);
    expect(
      await count(
        "SELECT count(*) AS n FROM webhook_endpoints WHERE account_id = ?",
        acct.accountId,
      ),
    ).toBe(1);
    expect(
      (await call("GET", "/v1/webhooks", { token: manager.token })).body.data.map((e: any) => e.id),
    ).toEqual([hook.id]);
    expect(
      (
        await call("POST", "/v1/webhooks", {
          token: managing,
          body: { url: CLOSED, events: ["*"] },
        })
      ).status,
    ).toBe(201);
    expect((await call("DELETE", `/v1/webhooks/${hook.id}`, { token: manager.token })).status).toBe(
      204,
    );
  });
});

describe("the stream consumer", () => {
  it("creates one delivery per subscribed endpoint, however often an event arrives", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const exact = await addEndpoint(acct, ["group.created"]);
    const all = await addEndpoint(acct, ["*"]);
    const elsewhere = await addEndpoint(acct, ["user.created"]);
    const off = await addEndpoint(acct, ["*"]);
    await call("PATCH", `/v1/webhooks/${off.id}`, {
      token: acct.token,
      body: { status: "disabled" },
    });
    const foreign = await addEndpoint(other, ["*"]);
    const event = await groupEvent(acct);

    const first = await consume(eventMessage(event));
    const second = await consume(eventMessage(event));
    const both = await Promise.all([
      consume(eventMessage(event)),
      consume(eventMessage(event), eventMessage(event)),
    ]);
    for (const r of [first, second, ...both]) expect(r.explicitAcks).toEqual(r.ids);
    expect(first.retryMessages).toEqual([]);

    const deliveries = await rows(
      "SELECT endpoint_id, event_type FROM webhook_deliveries WHERE event_id = ? ORDER BY endpoint_id",
      event.id,
    );
    expect(deliveries).toEqual(
      [exact.id, all.id]
        .sort()
        .map((endpoint_id) => ({ endpoint_id, event_type: "group.created" })),
    );
    for (const hook of [elsewhere, off, foreign]) {
      expect(
        await count(
          "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
          hook.id,
          event.id,
        ),
      ).toBe(0);
    }
    expect(
      (await one("SELECT streamed_at FROM activity_events WHERE id = ?", event.id)).streamed_at,
    ).not.toBeNull();
    const [delivery] = await rows(
      "SELECT payload FROM webhook_deliveries WHERE event_id = ? AND endpoint_id = ?",
      event.id,
      exact.id,
    );
    expect(JSON.parse(delivery!.payload)).toMatchObject({
      type: "group.created",
      data: { id: event.id, type: "group.created", account_id: acct.accountId },
    });
  });

  it("drops a malformed message (acknowledged) and ignores an unknown event id", async () => {
    const result = await consume(
      { kind: "nonsense" },
      { kind: "event", id: "evt_01jzzzzzzzzzzzzzzzzzzzzzzz", account_id: "acct_x" },
      "just a string",
    );
    expect(result.explicitAcks).toEqual(result.ids);
    expect(result.retryMessages).toEqual([]);
  });

  it("two deliver messages for the same attempt make exactly one attempt", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const delivery = await fanOut(await groupEvent(acct), hook.id);

    await Promise.all([
      consume(deliverMessage(delivery.id, 1)),
      consume(deliverMessage(delivery.id, 1)),
    ]);
    await until(
      () => attemptsOf(delivery.id),
      (a) => a.length > 0,
      "attempt 1",
    );
    await consume(deliverMessage(delivery.id, 1));
    expect((await attemptsOf(delivery.id)).map((a) => a.attempt)).toEqual([1]);

    const pending = await one("SELECT * FROM webhook_deliveries WHERE id = ?", delivery.id);
    expect(pending).toMatchObject({ attempts: 1, status: "pending" });
    clock.offsetMs = pending.next_attempt_at - Date.now();
    const results = await Promise.all([
      consume(deliverMessage(delivery.id, 2), deliverMessage(delivery.id, 2)),
      consume(deliverMessage(delivery.id, 2)),
    ]);
    await consume(deliverMessage(delivery.id, 2));
    // An attempt that is not next is skipped, too.
    await consume(deliverMessage(delivery.id, 4));
    for (const r of results) expect(r.explicitAcks).toEqual(r.ids);
    expect((await attemptsOf(delivery.id)).map((a) => a.attempt)).toEqual([1, 2]);
    expect(
      await one("SELECT attempts, status FROM webhook_deliveries WHERE id = ?", delivery.id),
    ).toEqual({ attempts: 2, status: "pending" });
    expect((await endpointRow(hook.id)).consecutive_failures).toBe(2);
  });
});

describe("a batch of event messages", () => {
  /** Events written straight to the log, so only the batch under test fans them out. */
  async function logEvents(events: { accountId: string; metadata?: string }[]) {
    const now = Date.now();
    const ids = events.map(() => newId("event"));
    await env.DB.batch(
      events.map((e, i) =>
        env.DB.prepare(
          `INSERT INTO activity_events (id, account_id, type, occurred_at, actor_type, actor_id,
            subject_type, subject_id, method, ip, user_agent, metadata, streamed_at)
          VALUES (?, ?, 'group.created', ?, 'system', NULL, 'group', 'grp_x', NULL, NULL, NULL, ?, NULL)`,
        ).bind(ids[i], e.accountId, now, e.metadata ?? "{}"),
      ),
    );
    return ids.map((id, i) => ({ id, account_id: events[i]!.accountId }));
  }

  const deliveriesTo = (...endpointIds: string[]) =>
    rows(
      "SELECT endpoint_id, event_id, account_id, payload FROM webhook_deliveries WHERE endpoint_id IN (SELECT value FROM json_each(?))",
      JSON.stringify(endpointIds),
    );
  const streamedAt = async (ids: string[]) =>
    (
      await rows(
        "SELECT streamed_at FROM activity_events WHERE id IN (SELECT value FROM json_each(?))",
        JSON.stringify(ids),
      )
    ).map((r) => r.streamed_at);

  it("fans out events of two accounts at once: one delivery per endpoint and event, each account's own", async () => {
    const [a, b] = await Promise.all([createAccount(), createAccount()]);
    const [hookA, hookB] = await Promise.all([addEndpoint(a), addEndpoint(b)]);
    const created = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call("POST", "/v1/groups", {
          token: (i % 2 ? b : a).token,
          body: { name: `fan-${i}-${crypto.randomUUID().slice(0, 8)}`, grants: [] },
        }),
      ),
    );
    for (const res of created) expect(res.status).toBe(201);
    const events = await rows<{ id: string; account_id: string }>(
      "SELECT id, account_id FROM activity_events WHERE type = 'group.created' AND subject_id IN (SELECT value FROM json_each(?))",
      JSON.stringify(created.map((res) => res.body.id)),
    );
    expect(events).toHaveLength(30);
    const ofA = events.filter((e) => e.account_id === a.accountId);
    expect(ofA).toHaveLength(15);

    // Every event, two of them twice, and one of A's events named as B's, all in one batch.
    const result = await consume(
      ...events.map(eventMessage),
      eventMessage(events[0]!),
      eventMessage(events[1]!),
      eventMessage({ id: ofA[0]!.id, account_id: b.accountId }),
    );
    expect(result.explicitAcks).toEqual(result.ids);
    expect(result.retryMessages).toEqual([]);

    // The events also went to the real queue, whose background consumer may fan them out
    // too: still exactly one delivery each, and all of them written by the time the batch
    // was acknowledged.
    const deliveries = await deliveriesTo(hookA.id, hookB.id);
    const key = (endpoint: string, event: string, account: string) =>
      `${endpoint} ${event} ${account}`;
    expect(deliveries.map((d) => key(d.endpoint_id, d.event_id, d.account_id)).sort()).toEqual(
      events
        .map((e) => key(e.account_id === a.accountId ? hookA.id : hookB.id, e.id, e.account_id))
        .sort(),
    );
    for (const d of deliveries) {
      expect(JSON.parse(d.payload)).toMatchObject({
        type: "group.created",
        data: { id: d.event_id, type: "group.created", account_id: d.account_id },
      });
    }
    expect((await streamedAt(events.map((e) => e.id))).filter((s) => s === null)).toEqual([]);
  });

  it("gives the same deliveries as one message at a time", async () => {
    const [a, b] = await Promise.all([createAccount(), createAccount()]);
    const hooks = await Promise.all([
      addEndpoint(a, ["group.created"]),
      addEndpoint(a, ["*"]),
      addEndpoint(a, ["user.created"]),
      addEndpoint(b, ["*"]),
    ]);
    const accounts = [a, b, a, a, b, b, a];
    const logged = await logEvents(
      [...accounts, ...accounts].map((x) => ({ accountId: x.accountId })),
    );
    const together = logged.slice(0, accounts.length);
    const alone = logged.slice(accounts.length);

    const batch = await consume(...together.map(eventMessage));
    expect(batch.explicitAcks).toEqual(batch.ids);
    for (const e of alone) expect((await consume(eventMessage(e))).retryMessages).toEqual([]);

    const all = await deliveriesTo(...hooks.map((h) => h.id));
    const shape = (events: { id: string }[]) =>
      all
        .filter((d) => events.some((e) => e.id === d.event_id))
        .map((d) => {
          const n = events.findIndex((e) => e.id === d.event_id);
          const payload = JSON.parse(d.payload);
          return {
            n,
            endpoint: hooks.findIndex((h) => h.id === d.endpoint_id),
            account: d.account_id,
            payload: { ...payload, timestamp: null, data: { ...payload.data, id: n } },
          };
        })
        .sort((x, y) => x.n - y.n || x.endpoint - y.endpoint);
    // Two of A's endpoints take each of A's four events, B's one each of B's three.
    expect(shape(together)).toHaveLength(2 * 4 + 1 * 3);
    expect(shape(together)).toEqual(shape(alone));
    expect(await streamedAt([...together, ...alone].map((e) => e.id))).not.toContain(null);
  });

  it("retries only the event that fails; the rest of the batch is fanned out and acknowledged", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const [good1, poisoned, good2] = await logEvents([
      { accountId: acct.accountId },
      // Not JSON: reading this event throws, as any fault of one event would.
      { accountId: acct.accountId, metadata: "{not json" },
      { accountId: acct.accountId },
    ]);
    try {
      const result = await consume(
        eventMessage(good1!),
        "not a message",
        eventMessage(poisoned!),
        { kind: "event", id: newId("event"), account_id: acct.accountId },
        eventMessage(good2!),
      );
      const [id1, malformed, poisonedId, unknown, id2] = result.ids;
      expect(result.retryMessages).toEqual([{ msgId: poisonedId }]);
      expect(result.explicitAcks.sort()).toEqual([id1, malformed, unknown, id2].sort());

      expect((await deliveriesTo(hook.id)).map((d) => d.event_id).sort()).toEqual(
        [good1!.id, good2!.id].sort(),
      );
      expect(await streamedAt([good1!.id, good2!.id])).not.toContain(null);
      expect(await streamedAt([poisoned!.id])).toEqual([null]);
    } finally {
      // A later cron must not hand the poisoned event to the background consumer.
      await env.DB.prepare("DELETE FROM activity_events WHERE id = ?").bind(poisoned!.id).run();
    }
  });
});

describe("retries and disabling", () => {
  it("retries a failing target with growing delays, then fails the delivery; the log shows it all", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const delivery = await fanOut(await groupEvent(acct), hook.id);
    expect(delivery).toMatchObject({ status: "pending", attempts: 0 });

    const gaps: number[] = [];
    let last: Awaited<ReturnType<typeof attempt>> | undefined;
    for (let n = 1; n <= 7; n++) {
      last = await attempt(delivery.id, n);
      const { delivery: d, row } = last;
      expect(row).toMatchObject({ status_code: null });
      expect(row.error).toEqual(expect.any(String));
      expect(row.error.length).toBeGreaterThan(0);
      expect(d.attempts).toBe(n);
      if (n < 7) {
        expect(d.status).toBe("pending");
        const gap = d.next_attempt_at - row.attempted_at;
        expect(gap).toBeGreaterThanOrEqual(retryDelaySeconds(n, () => 0) * 1000);
        expect(gap).toBeLessThanOrEqual(retryDelaySeconds(n, () => 1) * 1000);
        gaps.push(gap);
      }
      if (n === 3) {
        // Mid-way the log shows the attempts so far and when the next one is due.
        const { access_token } = await login(acct.adminEmail);
        const listed = await call("GET", `/v1/webhooks/${hook.id}/deliveries`, {
          token: access_token,
        });
        expect(listed.body.data).toHaveLength(1);
        expect(listed.body.data[0]).toMatchObject({
          id: delivery.id,
          event_type: "group.created",
          status: "pending",
          attempts: 3,
          max_attempts: 7,
          last_status_code: null,
          last_error: row.error,
          next_attempt_at: new Date(d.next_attempt_at).toISOString(),
        });
        expect(listed.body.data[0].log.map((l: any) => l.attempt)).toEqual([1, 2, 3]);
      }
    }
    // Each wait is longer than the one before, up to what jitter (±20%) can reverse; over a day in all.
    expect(gaps.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < gaps.length; i++)
      expect(gaps[i]!).toBeGreaterThan((gaps[i - 1]! * 0.8) / 1.2);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]! * 100);
    const attempts = await attemptsOf(delivery.id);
    expect(attempts.at(-1)!.attempted_at - attempts[0]!.attempted_at).toBeGreaterThanOrEqual(
      24 * HOUR,
    );

    expect(last!.delivery).toMatchObject({
      status: "failed",
      attempts: 7,
      next_attempt_at: null,
      last_status_code: null,
    });
    expect(await endpointRow(hook.id)).toMatchObject({
      status: "enabled",
      consecutive_failures: 7,
    });
    // Another message for the delivery changes nothing.
    await consume(deliverMessage(delivery.id, 7));
    expect(await attemptsOf(delivery.id)).toHaveLength(7);

    const { access_token } = await login(acct.adminEmail);
    const listed = await call("GET", `/v1/webhooks/${hook.id}/deliveries`, { token: access_token });
    expect(listed.status).toBe(200);
    expect(listed.body.data[0]).toMatchObject({
      id: delivery.id,
      status: "failed",
      attempts: 7,
      next_attempt_at: null,
      last_error: attempts.at(-1)!.error,
    });
    expect(listed.body.data[0].log).toEqual(
      attempts.map((a) => ({
        attempt: a.attempt,
        at: new Date(a.attempted_at).toISOString(),
        status_code: null,
        error: a.error,
        duration_ms: a.duration_ms,
      })),
    );
  });

  it("disables the endpoint after 15 consecutive failed attempts, records it and shows it", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const failuresAfter: number[] = [];
    // Access tokens last 15 minutes; the clock moves by days here.
    const fresh = async () => ({ ...acct, token: (await login(acct.adminEmail)).access_token });
    for (let d = 0; d < 2; d++) {
      const delivery = await fanOut(await groupEvent(await fresh()), hook.id);
      for (let n = 1; n <= 7; n++) await attempt(delivery.id, n);
      failuresAfter.push((await endpointRow(hook.id)).consecutive_failures);
    }
    expect(failuresAfter).toEqual([7, 14]);
    expect((await endpointRow(hook.id)).status).toBe("enabled");

    clock.offsetMs += HOUR;
    const admin = await fresh();
    const access_token = admin.token;
    const third = await fanOut(await groupEvent(admin), hook.id);
    const { delivery, row } = await attempt(third.id, 1);
    expect(delivery).toMatchObject({ status: "failed", attempts: 1, next_attempt_at: null });

    const endpoint = await endpointRow(hook.id);
    expect(endpoint).toMatchObject({
      status: "disabled",
      disabled_reason: "repeated_failures",
      consecutive_failures: 15,
      disabled_at: row.attempted_at,
    });
    const disabled = await rows(
      "SELECT * FROM activity_events WHERE type = 'webhook.endpoint_disabled' AND subject_id = ?",
      hook.id,
    );
    expect(disabled).toHaveLength(1);
    expect(disabled[0]).toMatchObject({
      account_id: acct.accountId,
      actor_type: "system",
      actor_id: null,
      subject_type: "webhook_endpoint",
    });
    expect(JSON.parse(disabled[0]!.metadata)).toMatchObject({
      reason: "repeated_failures",
      url: CLOSED,
    });

    const listed = await call("GET", "/v1/webhooks", { token: access_token });
    expect(listed.body.data).toEqual([
      expect.objectContaining({
        id: hook.id,
        status: "disabled",
        disabled_reason: "repeated_failures",
        disabled_at: new Date(row.attempted_at).toISOString(),
        consecutive_failures: 15,
      }),
    ]);
    // A disabled endpoint gets no new deliveries, and cannot be tested until enabled again.
    const later = await groupEvent(admin);
    await consume(eventMessage(later));
    expect(
      await count("SELECT count(*) AS n FROM webhook_deliveries WHERE event_id = ?", later.id),
    ).toBe(0);
    expectProblem(
      await call("POST", `/v1/webhooks/${hook.id}/test`, { token: access_token }),
      422,
      "validation_failed",
    );
    const enabled = await call("PATCH", `/v1/webhooks/${hook.id}`, {
      token: access_token,
      body: { status: "enabled" },
    });
    expect(enabled.body).toMatchObject({
      status: "enabled",
      disabled_reason: null,
      consecutive_failures: 0,
    });
  });

  it("counts every failure when deliveries to one endpoint fail at the same time, and disables it once", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const deliveries = [];
    for (let i = 0; i < 4; i++) deliveries.push(await fanOut(await groupEvent(acct), hook.id));
    // Attempts 1 race with the background consumer's; wait for each, then make the second attempts together.
    for (const d of deliveries)
      await until(
        () => attemptsOf(d.id),
        (a) => a.length === 1,
        "attempt 1",
      );
    expect((await endpointRow(hook.id)).consecutive_failures).toBe(4);
    clock.offsetMs =
      Math.max(
        ...(await Promise.all(
          deliveries.map(
            async (d) =>
              (
                await one("SELECT next_attempt_at FROM webhook_deliveries WHERE id = ?", d.id)
              ).next_attempt_at,
          ),
        )),
      ) - Date.now();
    await Promise.all(deliveries.map((d) => consume(deliverMessage(d.id, 2))));
    for (const d of deliveries) expect(await attemptsOf(d.id)).toHaveLength(2);
    expect((await endpointRow(hook.id)).consecutive_failures).toBe(8);

    // Crossing the threshold together disables the endpoint once, with one event.
    await env.DB.prepare("UPDATE webhook_endpoints SET consecutive_failures = 14 WHERE id = ?")
      .bind(hook.id)
      .run();
    clock.offsetMs += 2 * HOUR;
    await Promise.all(deliveries.map((d) => consume(deliverMessage(d.id, 3))));
    expect(await endpointRow(hook.id)).toMatchObject({
      status: "disabled",
      disabled_reason: "repeated_failures",
      consecutive_failures: 18,
    });
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'webhook.endpoint_disabled' AND subject_id = ?",
        hook.id,
      ),
    ).toBe(1);
    for (const d of deliveries)
      expect(
        await one("SELECT status, next_attempt_at FROM webhook_deliveries WHERE id = ?", d.id),
      ).toEqual({ status: "failed", next_attempt_at: null });
  });

  it("a delivery still pending when its endpoint is disabled fails without an attempt", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct);
    const delivery = await fanOut(await groupEvent(acct), hook.id);
    await attempt(delivery.id, 1);
    await call("PATCH", `/v1/webhooks/${hook.id}`, {
      token: acct.token,
      body: { status: "disabled" },
    });
    await consume(deliverMessage(delivery.id, 2));
    expect(await attemptsOf(delivery.id)).toHaveLength(1);
    expect(
      await one(
        "SELECT status, next_attempt_at, last_error FROM webhook_deliveries WHERE id = ?",
        delivery.id,
      ),
    ).toEqual({ status: "failed", next_attempt_at: null, last_error: "endpoint disabled" });
  });
});

describe("POST /v1/webhooks/:id/test", () => {
  it("against a closed port answers 200 with success false and the error, kept in the delivery log", async () => {
    const acct = await createAccount();
    const hook = await addEndpoint(acct, ["user.deleted"]);
    const res = await call("POST", `/v1/webhooks/${hook.id}/test`, { token: acct.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: false, status_code: null });
    expect(res.body.error).toEqual(expect.any(String));
    expect(res.body.error.length).toBeGreaterThan(0);

    const listed = await call("GET", `/v1/webhooks/${hook.id}/deliveries`, { token: acct.token });
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).toMatchObject({
      id: res.body.delivery_id,
      event_id: res.body.event_id,
      event_type: "webhook.test",
      status: "failed",
      attempts: 1,
      last_status_code: null,
      last_error: res.body.error,
      next_attempt_at: null,
    });
    expect(listed.body.data[0].log).toEqual([
      expect.objectContaining({ attempt: 1, status_code: null, error: res.body.error }),
    ]);
    const [stored] = await rows(
      "SELECT payload FROM webhook_deliveries WHERE id = ?",
      res.body.delivery_id,
    );
    expect(JSON.parse(stored!.payload)).toMatchObject({
      type: "webhook.test",
      data: { id: res.body.event_id, endpoint_id: hook.id, account_id: acct.accountId },
    });
    expect((await endpointRow(hook.id)).consecutive_failures).toBe(1);
  });
});

/**
 * Webhooks end to end: a real local worker (its queue consumer included, in wrangler's
 * local runtime) delivers to a node:http receiver that verifies every request with the
 * `standardwebhooks` npm library, not with the service's own signing code. ENVIRONMENT
 * stays "development", so http://127.0.0.1 targets are allowed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, newAccount, type StartedWorker, startWorker, until } from "./harness";
import {
  type ReceivedWebhook,
  startWebhookReceiver,
  type WebhookReceiver,
} from "./webhook-receiver";

/** The consumer batches for up to a second, and a delivery takes two queue hops (fan-out, attempt). */
const DELIVERY_WAIT_MS = 30_000;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

let worker: StartedWorker;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  worker = await startWorker();
});

afterAll(async () => {
  await Promise.allSettled(receivers.map((r) => r.close()));
  await worker?.dispose();
});

async function receiver(options: { defaultStatus?: number } = {}) {
  const r = await startWebhookReceiver(options);
  receivers.push(r);
  return r;
}

let seq = 0;
/**
 * A fresh account with an administrator session. Unless told otherwise, it waits until the
 * account's bootstrap events have gone through the stream, so that they cannot reach the
 * endpoints the test creates next (see the last test).
 */
async function setup(name: string, { settle = true } = {}) {
  const admin = await newAccount(worker.url, { name: `Webhooks ${name}` });
  const call = (method: string, route: string, body?: unknown) =>
    api(worker.url, method, route, { token: admin.token, body });

  async function addEndpoint(r: WebhookReceiver, events: string[], path = name) {
    const created = await call("POST", "/v1/webhooks", { url: r.endpoint(path), events });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    r.secret = created.body.secret;
    return created.body as { id: string; secret: string; url: string; status: string };
  }

  async function createUser() {
    const email = `hooked-${++seq}-${Date.now()}@e2e.example`;
    const created = await call("POST", "/v1/users", {
      email,
      first_name: "Grace",
      last_name: "Hopper",
      password: "a compiler passphrase long enough to pass",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body as { id: string; email: string };
  }

  const deliveries = async (endpointId: string) => {
    const res = await call("GET", `/v1/webhooks/${endpointId}/deliveries`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data as any[];
  };

  const endpoint = async (endpointId: string) => {
    const res = await call("GET", "/v1/webhooks");
    expect(res.status).toBe(200);
    return (res.body.data as any[]).find((e) => e.id === endpointId);
  };

  /**
   * Waits until the stream has worked through everything published so far (the account's
   * own bootstrap events included): a throwaway endpoint gets a device_organization.created
   * sent after them, and the local queue hands messages out in order. Then it is removed.
   */
  async function drain() {
    const r = await receiver();
    const hook = await addEndpoint(r, ["device_organization.created"], "drain");
    const org = await call("POST", "/v1/device-organizations", { name: `Drain ${++seq}` });
    expect(org.status, JSON.stringify(org.body)).toBe(201);
    await r.waitFor((d) => d.body?.data?.subject?.id === org.body.id, DELIVERY_WAIT_MS);
    expect((await call("DELETE", `/v1/webhooks/${hook.id}`)).status).toBe(204);
  }

  if (settle) await drain();
  return { admin, call, addEndpoint, createUser, deliveries, endpoint, drain };
}

const typed = (type: string) => (d: ReceivedWebhook) => d.body?.type === type;
const signatures = (d: ReceivedWebhook) => d.headers["webhook-signature"]!.split(" ");

describe("webhooks delivered to a Standard Webhooks receiver", () => {
  it("delivers one signed user.created, verified by standardwebhooks, and logs it as succeeded", async () => {
    const { admin, call, addEndpoint, createUser, deliveries, drain } = await setup("created");
    const r = await receiver();
    const hook = await addEndpoint(r, ["user.created"]);
    expect(hook).toMatchObject({
      url: r.endpoint("created"),
      status: "enabled",
      events: ["user.created"],
    });

    const before = Math.floor(Date.now() / 1000);
    const user = await createUser();
    const d = await r.waitFor(typed("user.created"), DELIVERY_WAIT_MS);
    // Everything queued so far has been worked through: no later duplicate can arrive.
    await drain();
    expect(r.received, "exactly one delivery").toHaveLength(1);

    // Verified by the independent library, with the secret shown at creation.
    expect(d.verifyError).toBeNull();
    expect(d.verified).toBe(true);
    expect(d.method).toBe("POST");
    expect(d.path).toBe("/hooks/created");
    expect(d.headers["content-type"]).toMatch(/^application\/json/);

    // Standard Webhooks headers: the id is the event id, the timestamp is now, one v1 signature.
    expect(d.headers["webhook-id"]).toMatch(/^evt_[0-7][0-9a-hjkmnp-tv-z]{25}$/);
    const ts = Number(d.headers["webhook-timestamp"]);
    expect(d.headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
    expect(ts).toBeGreaterThanOrEqual(before - 5);
    expect(ts).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 5);
    expect(signatures(d)).toHaveLength(1);
    expect(signatures(d)[0]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    // The body: {type, timestamp, data} with the event as the activity API shows it.
    expect(Object.keys(d.body).sort()).toEqual(["data", "timestamp", "type"]);
    expect(d.body.type).toBe("user.created");
    expect(d.body.timestamp).toMatch(ISO);
    expect(d.body.data).toMatchObject({
      id: d.headers["webhook-id"],
      type: "user.created",
      account_id: admin.account.id,
      actor: { type: "user", id: admin.admin.id },
      subject: { type: "user", id: user.id },
      metadata: { created_via: "manual", created_by: admin.admin.id, email: user.email },
    });
    expect(d.body.data.occurred_at).toBe(d.body.timestamp);
    const activity = await call("GET", "/v1/activity?type=user.created&limit=5");
    expect(activity.status).toBe(200);
    expect(activity.body.data.find((e: any) => e.id === d.body.data.id)).toEqual(d.body.data);

    // A tampered body does not verify: the library really checks the signature.
    expect(
      r.verifyWith(hook.secret, {
        ...d,
        rawBody: d.rawBody.replace(`"${user.id}"`, `"${admin.admin.id}"`),
      }).ok,
    ).toBe(false);

    // The delivery log: one succeeded attempt answered 204, nothing scheduled.
    const [logged, ...rest] = await until(
      () => deliveries(hook.id),
      (list) => list[0]?.status === "succeeded",
    );
    expect(rest).toEqual([]);
    expect(logged).toMatchObject({
      event_id: d.headers["webhook-id"],
      event_type: "user.created",
      status: "succeeded",
      attempts: 1,
      last_status_code: 204,
      last_error: null,
      next_attempt_at: null,
    });
    expect(logged.log).toEqual([
      {
        attempt: 1,
        at: expect.stringMatching(ISO),
        status_code: 204,
        error: null,
        duration_ms: expect.any(Number),
      },
    ]);
  });

  it("does not deliver events the endpoint did not subscribe to", async () => {
    const { call, addEndpoint, createUser, deliveries, drain } = await setup("filters");
    const users = await receiver();
    const groups = await receiver();
    const usersHook = await addEndpoint(users, ["user.created"], "users");
    const groupsHook = await addEndpoint(groups, ["group.created"], "groups");

    const group = await call("POST", "/v1/groups", { name: `Hooked group ${++seq}`, grants: [] });
    expect(group.status, JSON.stringify(group.body)).toBe(201);
    const user = await createUser();

    const g = await groups.waitFor(typed("group.created"), DELIVERY_WAIT_MS);
    const u = await users.waitFor(typed("user.created"), DELIVERY_WAIT_MS);
    // Everything queued so far has been worked through: no later duplicate can arrive.
    await drain();
    expect(g.verified && u.verified).toBe(true);
    expect(g.body.data.subject).toEqual({ type: "group", id: group.body.id });
    expect(u.body.data.subject).toEqual({ type: "user", id: user.id });
    // Each endpoint got its one subscribed event, and nothing else (not the login, not
    // webhook.created, not the other endpoint's type).
    expect(users.received.map((d) => d.body.type)).toEqual(["user.created"]);
    expect(groups.received.map((d) => d.body.type)).toEqual(["group.created"]);
    // The fan-out of group.created happened (the other endpoint got it) and made no delivery here.
    expect((await deliveries(usersHook.id)).map((x) => x.event_type)).toEqual(["user.created"]);
    expect((await deliveries(groupsHook.id)).map((x) => x.event_type)).toEqual(["group.created"]);
  });

  it("signs with the new and the old secret during a rotation's overlap", async () => {
    const { call, addEndpoint, createUser } = await setup("rotation");
    const r = await receiver();
    const hook = await addEndpoint(r, ["user.created"]);
    const oldSecret = hook.secret;

    const rotated = await call("POST", `/v1/webhooks/${hook.id}/rotate-secret`);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    const overlapEnds = Date.parse(rotated.body.previous_secret_expires_at);
    expect(overlapEnds - Date.now()).toBeGreaterThan(23 * 3600_000);
    expect(overlapEnds - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
    r.secret = newSecret;

    await createUser();
    const d = await r.waitFor(typed("user.created"), DELIVERY_WAIT_MS);
    expect(d.verifyError).toBeNull();
    expect(d.verified).toBe(true);
    expect(signatures(d)).toHaveLength(2);
    expect(r.verifyWith(newSecret, d)).toEqual({ ok: true, error: null });
    expect(r.verifyWith(oldSecret, d)).toEqual({ ok: true, error: null });
    // Each signature alone verifies with exactly one of the secrets.
    for (const sig of signatures(d)) {
      const alone = { ...d, headers: { ...d.headers, "webhook-signature": sig } };
      expect(
        [r.verifyWith(newSecret, alone).ok, r.verifyWith(oldSecret, alone).ok].filter(Boolean),
      ).toHaveLength(1);
    }
    // A secret that was never the endpoint's does not verify.
    expect(r.verifyWith(`whsec_${Buffer.alloc(24, 7).toString("base64")}`, d).ok).toBe(false);
  });

  it("POST /v1/webhooks/:id/test delivers a verified webhook.test at once", async () => {
    const { admin, call, addEndpoint, deliveries } = await setup("test-event");
    const r = await receiver();
    const hook = await addEndpoint(r, ["user.created"]);

    const sent = await call("POST", `/v1/webhooks/${hook.id}/test`);
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body).toMatchObject({ success: true, status_code: 204, error: null });
    // Synchronous: the receiver has it by the time the answer comes.
    expect(r.received).toHaveLength(1);
    const d = r.received[0]!;
    expect(d.verifyError).toBeNull();
    expect(d.verified).toBe(true);
    expect(d.headers["webhook-id"]).toBe(sent.body.event_id);
    expect(d.body).toMatchObject({
      type: "webhook.test",
      timestamp: expect.stringMatching(ISO),
      data: {
        id: sent.body.event_id,
        type: "webhook.test",
        account_id: admin.account.id,
        endpoint_id: hook.id,
      },
    });
    const [logged] = await deliveries(hook.id);
    expect(logged).toMatchObject({
      id: sent.body.delivery_id,
      event_id: sent.body.event_id,
      event_type: "webhook.test",
      status: "succeeded",
      attempts: 1,
      last_status_code: 204,
    });
  });

  it("disables the endpoint at once when the receiver answers 410 Gone", async () => {
    const { call, addEndpoint, createUser, deliveries, endpoint, drain } = await setup("gone");
    const gone = await receiver({ defaultStatus: 410 });
    const control = await receiver();
    const hook = await addEndpoint(gone, ["user.created"], "gone");
    await addEndpoint(control, ["user.created"], "control");

    await createUser();
    const d = await gone.waitFor(typed("user.created"), DELIVERY_WAIT_MS);
    expect(d.verified).toBe(true);
    expect(d.status).toBe(410);

    const disabled = await until(
      () => endpoint(hook.id),
      (e) => e?.status === "disabled",
    );
    expect(disabled).toMatchObject({
      status: "disabled",
      disabled_reason: "gone",
      disabled_at: expect.stringMatching(ISO),
      consecutive_failures: 1,
    });
    const [logged] = await deliveries(hook.id);
    expect(logged).toMatchObject({
      status: "failed",
      attempts: 1,
      last_status_code: 410,
      next_attempt_at: null,
    });
    expect(logged.log).toEqual([expect.objectContaining({ attempt: 1, status_code: 410 })]);
    const recorded = await until(
      () => call("GET", "/v1/activity?type=webhook.endpoint_disabled"),
      (res) => res.body.data?.length > 0,
    );
    expect(recorded.body.data[0]).toMatchObject({
      actor: { type: "system" },
      subject: { type: "webhook_endpoint", id: hook.id },
      metadata: { reason: "gone" },
    });

    // Later events skip the disabled endpoint: the control endpoint gets the next one, this one nothing.
    await createUser();
    await until(
      async () => control.received.length,
      (n) => n === 2,
    );
    // Everything queued so far has been worked through: no later duplicate can arrive.
    await drain();
    expect(gone.received).toHaveLength(1);
    expect(await deliveries(hook.id)).toHaveLength(1);
    // And a test send is refused while disabled.
    const test = await call("POST", `/v1/webhooks/${hook.id}/test`);
    expect(test.status).toBe(422);
    expect(gone.received).toHaveLength(1);
  });

  it("logs a 500 as a failed attempt and schedules the retry about a minute later", async () => {
    const { addEndpoint, createUser, deliveries, endpoint } = await setup("failing");
    const r = await receiver();
    r.respondWith(500);
    const hook = await addEndpoint(r, ["user.created"]);

    await createUser();
    const d = await r.waitFor(typed("user.created"), DELIVERY_WAIT_MS);
    expect(d.verified).toBe(true);
    expect(d.status).toBe(500);

    const [logged] = await until(
      () => deliveries(hook.id),
      (list) => list[0]?.log.length === 1,
    );
    expect(logged).toMatchObject({
      event_id: d.headers["webhook-id"],
      status: "pending",
      attempts: 1,
      last_status_code: 500,
      last_error: "HTTP 500",
    });
    expect(logged.max_attempts).toBeGreaterThanOrEqual(6);
    expect(logged.log).toEqual([
      expect.objectContaining({ attempt: 1, status_code: 500, error: "HTTP 500" }),
    ]);
    // First retry after 60 s with ±20% jitter (not waited for).
    const delay = Date.parse(logged.next_attempt_at) - Date.parse(logged.log[0].at);
    expect(delay).toBeGreaterThanOrEqual(48_000);
    expect(delay).toBeLessThanOrEqual(72_000);
    expect(Date.parse(logged.next_attempt_at)).toBeGreaterThan(Date.now());
    expect(await endpoint(hook.id)).toMatchObject({
      status: "enabled",
      consecutive_failures: 1,
      disabled_reason: null,
    });
  });

  it("does not deliver events that occurred before the endpoint existed", async () => {
    // The account's bootstrap events (account.created, the administrator's user.created and
    // login) are still in the queue when the endpoint is added a moment later.
    const { admin, addEndpoint, createUser, drain } = await setup("history", { settle: false });
    const r = await receiver();
    const hook = await addEndpoint(r, ["account.created", "user.created", "auth.login.succeeded"]);
    const createdAt = Date.parse((hook as any).created_at);

    const user = await createUser();
    await r.waitFor((d) => d.body?.data?.subject?.id === user.id, DELIVERY_WAIT_MS);
    // Everything queued so far has been worked through: no later duplicate can arrive.
    await drain();
    const seen = r.received.map((d) => ({
      type: d.body.type,
      subject: d.body.data.subject?.id,
      occurred_at: d.body.data.occurred_at,
    }));
    expect(
      seen.filter((e) => Date.parse(e.occurred_at) < createdAt),
      `delivered from before the endpoint was created (admin ${admin.admin.id})`,
    ).toEqual([]);
    expect(seen).toEqual([
      { type: "user.created", subject: user.id, occurred_at: expect.any(String) },
    ]);
  });
});

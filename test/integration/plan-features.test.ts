/**
 * Plan features: API tokens and webhooks answer only on plans that include them; after a
 * downgrade existing tokens are refused and endpoints are paused (kept, not disabled), and
 * an upgrade brings both back.
 *
 * The stream is driven by calling the worker's queue handler, as in webhooks.test.ts;
 * miniflare also consumes in the background, so every wait is on a row, never a sleep.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FEATURES } from "../../src/billing/features";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import {
  call,
  createAccount,
  createUser,
  expectProblem,
  PLATFORM_TOKEN,
  rows,
  type TestAccount,
  until,
} from "../helpers";

const CLOSED = "http://127.0.0.1:9/hook";

const setPlan = async (acct: TestAccount, plan: string) => {
  const res = await call("PATCH", `/v1/platform/accounts/${acct.accountId}`, {
    token: PLATFORM_TOKEN,
    body: { plan },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
};

async function consume(...bodies: unknown[]) {
  const batch = createMessageBatch(
    "user-events",
    bodies.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env as unknown as Bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  expect(result.explicitAcks).toEqual(batch.messages.map((m) => m.id));
}

/** A real group.created event of the account. */
async function groupEvent(acct: TestAccount) {
  const res = await call("POST", "/v1/groups", {
    token: acct.token,
    body: { name: `g-${crypto.randomUUID().slice(0, 8)}`, grants: [] },
  });
  expect(res.status).toBe(201);
  const [event] = await rows<{ id: string; account_id: string }>(
    "SELECT id, account_id FROM activity_events WHERE type = 'group.created' AND subject_id = ?",
    res.body.id,
  );
  return event!;
}

const eventMessage = (e: { id: string; account_id: string }) => ({
  kind: "event",
  id: e.id,
  account_id: e.account_id,
});

const deliveriesOf = (endpointId: string, eventId: string) =>
  rows(
    "SELECT * FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
    endpointId,
    eventId,
  );

async function addEndpoint(acct: TestAccount) {
  const res = await call("POST", "/v1/webhooks", {
    token: acct.token,
    body: { url: CLOSED, events: ["group.created"] },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string };
}

async function createToken(acct: TestAccount) {
  const res = await call("POST", "/v1/api-tokens", {
    token: acct.token,
    body: { name: "ci", permissions: ["users:read"] },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; token: string };
}

const tokenRoutes = (id: string): [string, string, unknown?][] => [
  ["GET", "/v1/api-tokens"],
  ["POST", "/v1/api-tokens", { name: "ci", permissions: ["users:read"] }],
  ["DELETE", `/v1/api-tokens/${id}`],
];

const webhookRoutes = (id: string): [string, string, unknown?][] => [
  ["POST", "/v1/webhooks", { url: CLOSED, events: ["group.created"] }],
  ["PATCH", `/v1/webhooks/${id}`, { description: "x" }],
  ["DELETE", `/v1/webhooks/${id}`],
  ["POST", `/v1/webhooks/${id}/rotate-secret`],
  ["GET", `/v1/webhooks/${id}/deliveries`],
  ["POST", `/v1/webhooks/${id}/test`],
];

describe("the feature catalogue", () => {
  it("names, for each feature, exactly the plans whose row includes it", async () => {
    const plans = await rows<{ id: string; features: string }>("SELECT id, features FROM plans");
    for (const [feature, { plans: having }] of Object.entries(FEATURES)) {
      const stored = plans.filter((p) => JSON.parse(p.features).includes(feature)).map((p) => p.id);
      expect(new Set(stored), feature).toEqual(new Set(having));
    }
  });

  it("GET /v1/account still reports the plan's features", async () => {
    const acct = await createAccount("business");
    const res = await call("GET", "/v1/account", { token: acct.token });
    expect(res.status).toBe(200);
    expect(res.body.features).toEqual(["api_tokens", "webhooks"]);
  });
});

describe("api_tokens", () => {
  it("every /v1/api-tokens route of a free account is 403 feature_not_in_plan, naming the plans", async () => {
    const acct = await createAccount("free");
    for (const [method, path, body] of tokenRoutes("tok_nothing")) {
      const res = await call(method, path, { token: acct.token, body });
      expectProblem(res, 403, "feature_not_in_plan");
      expect(res.body.detail).toBe(
        "API tokens are not in the free plan; they are in team, business and enterprise.",
      );
      expect(res.body).toMatchObject({
        feature: "api_tokens",
        plans: ["team", "business", "enterprise"],
      });
    }
    expect(await rows("SELECT id FROM api_tokens WHERE account_id = ?", acct.accountId)).toEqual(
      [],
    );
  });

  it("a team account uses them; another account's ids are 404 and bad input 422", async () => {
    const acct = await createAccount("team");
    const other = await createAccount("team");
    const token = await createToken(acct);
    expect((await call("GET", "/v1/users", { token: token.token })).status).toBe(200);
    const list = await call("GET", "/v1/api-tokens", { token: acct.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((t: any) => t.id)).toEqual([token.id]);
    expectProblem(
      await call("DELETE", `/v1/api-tokens/${token.id}`, { token: other.token }),
      404,
      "not_found",
    );
    expectProblem(
      await call("POST", "/v1/api-tokens", { token: acct.token, body: { name: "" } }),
      422,
      "validation_failed",
    );
    expect((await call("DELETE", `/v1/api-tokens/${token.id}`, { token: acct.token })).status).toBe(
      204,
    );
  });

  it("checks authentication, then the plan, then the permission", async () => {
    const free = await createAccount("free");
    const team = await createAccount("team");
    expectProblem(await call("GET", "/v1/api-tokens"), 401, "unauthorized");
    // A member without api_tokens:manage: the plan is named first, then the permission.
    const freeMember = await createUser(free);
    expectProblem(
      await call("GET", "/v1/api-tokens", { token: freeMember.token }),
      403,
      "feature_not_in_plan",
    );
    const teamMember = await createUser(team);
    expectProblem(
      await call("GET", "/v1/api-tokens", { token: teamMember.token }),
      403,
      "forbidden",
    );
  });

  it("a downgrade refuses an existing token with feature_not_in_plan; an upgrade brings it back", async () => {
    const acct = await createAccount("business");
    const token = await createToken(acct);
    expect((await call("GET", "/v1/users", { token: token.token })).status).toBe(200);

    await setPlan(acct, "free");
    const refused = await call("GET", "/v1/users", { token: token.token });
    expectProblem(refused, 403, "feature_not_in_plan");
    expect(refused.body.detail).toMatch(/API tokens are not in the free plan/);
    // The token is checked first: a wrong secret is still 401.
    const wrong = `${token.token.slice(0, -2)}${token.token.endsWith("AA") ? "BB" : "AA"}`;
    expectProblem(await call("GET", "/v1/users", { token: wrong }), 401, "unauthorized");
    // Kept, not revoked.
    const [stored] = await rows("SELECT revoked_at FROM api_tokens WHERE id = ?", token.id);
    expect(stored).toEqual({ revoked_at: null });

    await setPlan(acct, "team");
    expect((await call("GET", "/v1/users", { token: token.token })).status).toBe(200);
  });
});

describe("webhooks", () => {
  it("every gated /v1/webhooks route of a team account is 403 feature_not_in_plan, naming the plans", async () => {
    const acct = await createAccount("team");
    for (const [method, path, body] of webhookRoutes("whk_nothing")) {
      const res = await call(method, path, { token: acct.token, body });
      expectProblem(res, 403, "feature_not_in_plan");
      expect(res.body.detail, `${method} ${path}`).toBe(
        "Webhooks are not in the team plan; they are in business and enterprise.",
      );
    }
    expect(
      await rows("SELECT id FROM webhook_endpoints WHERE account_id = ?", acct.accountId),
    ).toEqual([]);
    // The list stays readable, so a downgraded account can see what is paused.
    const list = await call("GET", "/v1/webhooks", { token: acct.token });
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([]);
  });

  it("a business account uses them; another account's ids are 404 and bad input 422", async () => {
    const acct = await createAccount("business");
    const other = await createAccount("business");
    const endpoint = await addEndpoint(acct);
    for (const [method, path, body] of webhookRoutes(endpoint.id).slice(1)) {
      const res = await call(method, path, { token: other.token, body });
      expectProblem(res, 404, "not_found");
    }
    expectProblem(
      await call("POST", "/v1/webhooks", { token: acct.token, body: { url: CLOSED, events: [] } }),
      422,
      "validation_failed",
    );
    const list = await call("GET", "/v1/webhooks", { token: acct.token });
    expect(list.body.data).toMatchObject([
      { id: endpoint.id, status: "enabled", paused: false, paused_reason: null },
    ]);
  });

  it("checks authentication, then the plan, then the permission", async () => {
    const team = await createAccount("team");
    const business = await createAccount("business");
    expectProblem(await call("POST", "/v1/webhooks", { body: {} }), 401, "unauthorized");
    const teamMember = await createUser(team);
    expectProblem(
      await call("POST", "/v1/webhooks/whk_x/rotate-secret", { token: teamMember.token }),
      403,
      "feature_not_in_plan",
    );
    const businessMember = await createUser(business);
    expectProblem(
      await call("POST", "/v1/webhooks/whk_x/rotate-secret", { token: businessMember.token }),
      403,
      "forbidden",
    );
  });

  it("a downgrade pauses an endpoint: kept, listed as paused, nothing delivered; an upgrade resumes it", async () => {
    const acct = await createAccount("business");
    const endpoint = await addEndpoint(acct);

    // A delivery made on business, whose first attempt has happened (by us or the background).
    const before = await groupEvent(acct);
    await consume(eventMessage(before));
    const [pending] = await deliveriesOf(endpoint.id, before.id);
    await consume({ kind: "deliver", delivery_id: pending!.id, attempt: 1 });
    await until(
      () => rows("SELECT * FROM webhook_attempts WHERE delivery_id = ?", pending!.id),
      (a) => a.length >= 1,
      "the first attempt",
    );

    await setPlan(acct, "free");
    const listed = await call("GET", "/v1/webhooks", { token: acct.token });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toMatchObject([
      { id: endpoint.id, status: "enabled", paused: true, paused_reason: "feature_not_in_plan" },
    ]);

    // An event while paused creates no delivery.
    const whilePaused = await groupEvent(acct);
    await consume(eventMessage(whilePaused));
    expect(await deliveriesOf(endpoint.id, whilePaused.id)).toEqual([]);

    // The pending delivery's next attempt is not made; the endpoint stays enabled.
    await consume({ kind: "deliver", delivery_id: pending!.id, attempt: 2 });
    const [stopped] = await rows("SELECT * FROM webhook_deliveries WHERE id = ?", pending!.id);
    expect(stopped).toMatchObject({
      status: "failed",
      attempts: 1,
      last_error: "webhooks not in the account's plan",
    });
    const [row] = await rows("SELECT * FROM webhook_endpoints WHERE id = ?", endpoint.id);
    expect(row).toMatchObject({ status: "enabled", disabled_reason: null });

    await setPlan(acct, "enterprise");
    const resumed = await call("GET", "/v1/webhooks", { token: acct.token });
    expect(resumed.body.data).toMatchObject([
      { id: endpoint.id, status: "enabled", paused: false, paused_reason: null },
    ]);
    const after = await groupEvent(acct);
    await consume(eventMessage(after));
    expect(await deliveriesOf(endpoint.id, after.id)).toMatchObject([
      { event_id: after.id, status: expect.stringMatching(/pending|failed/) },
    ]);
  });
});

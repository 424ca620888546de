/** Webhook endpoints: the secret is shown once, rotated with an overlap. */
import { by, EVENT_TYPES, type EventInput, type EventType } from "../activity/record";
import { hasFeature } from "../billing/features";
import type { AuthedCtx } from "../context";
import { commit } from "../db/commit";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { attemptDelivery, MAX_ATTEMPTS } from "./delivery";
import * as repo from "./repo";
import { newWebhookSecret } from "./signing";
import { checkWebhookTarget } from "./target-policy";

/** How long the previous secret keeps signing after a rotation. */
const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;
export const SUBSCRIBABLE = [...EVENT_TYPES, "webhook.test"] as const;

/** The stored status stays as it was while the plan lacks webhooks; `paused` says so. */
function toEndpointDto(e: repo.EndpointRow, paused: boolean) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    status: e.status,
    disabled_reason: e.disabledReason,
    disabled_at: iso(e.disabledAt),
    paused,
    paused_reason: paused ? ("feature_not_in_plan" as const) : null,
    consecutive_failures: e.consecutiveFailures,
    previous_secret_expires_at: iso(e.previousSecretExpiresAt),
    created_at: iso(e.createdAt)!,
    updated_at: iso(e.updatedAt)!,
  };
}

const pausedFor = (ctx: AuthedCtx) => !hasFeature(ctx.principal.plan, "webhooks");
const dto = (ctx: AuthedCtx) => (e: repo.EndpointRow) => toEndpointDto(e, pausedFor(ctx));

async function findOwn(ctx: AuthedCtx, id: string) {
  const found = await repo.findEndpoint(ctx.db, ctx.principal.accountId, id);
  if (!found) throw new AppError("not_found", "No such webhook endpoint.");
  return found;
}

const webhookEvent = (
  ctx: AuthedCtx,
  type: EventType,
  id: string,
  metadata: Record<string, unknown>,
) =>
  ({
    type,
    ...by(ctx.principal),
    subject: { type: "webhook_endpoint", id },
    metadata,
  }) satisfies EventInput;

export async function listEndpoints(ctx: AuthedCtx, limit: number, cursor?: string) {
  const rows = await repo.listEndpoints(
    ctx.db,
    ctx.principal.accountId,
    limit,
    decodeCursor(cursor),
  );
  return toPage(rows, limit, dto(ctx), (e) => e.id);
}

export async function createEndpoint(
  ctx: AuthedCtx,
  input: { url: string; events: string[]; description?: string | null },
) {
  const { db, now, principal } = ctx;
  const url = checkWebhookTarget(input.url, ctx.config.development).toString();
  const secret = newWebhookSecret();
  const row = {
    id: newId("webhook"),
    accountId: principal.accountId,
    url,
    description: input.description ?? null,
    events: [...new Set(input.events)],
    secret,
    previousSecret: null,
    previousSecretExpiresAt: null,
    status: "enabled" as const,
    disabledReason: null,
    disabledAt: null,
    consecutiveFailures: 0,
    createdAt: now,
    updatedAt: now,
  };
  const event = webhookEvent(ctx, "webhook.created", row.id, { url, events: row.events });
  await commit(ctx, [repo.insertEndpoint(db, row)], [event]);
  return { ...dto(ctx)(row), secret };
}

export async function updateEndpoint(
  ctx: AuthedCtx,
  id: string,
  input: {
    url?: string;
    events?: string[];
    description?: string | null;
    status?: "enabled" | "disabled";
  },
) {
  const { db, now, principal } = ctx;
  await findOwn(ctx, id);
  const url =
    input.url !== undefined
      ? checkWebhookTarget(input.url, ctx.config.development).toString()
      : undefined;
  const event = webhookEvent(ctx, "webhook.updated", id, { changes: { ...input, url } });
  await commit(
    ctx,
    [
      repo.updateEndpoint(db, principal.accountId, id, {
        ...(url !== undefined ? { url } : {}),
        ...(input.events ? { events: [...new Set(input.events)] } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        // Re-enabling starts a clean slate; disabling by hand says so.
        ...(input.status === "enabled"
          ? { status: "enabled", disabledReason: null, disabledAt: null, consecutiveFailures: 0 }
          : {}),
        ...(input.status === "disabled"
          ? { status: "disabled", disabledReason: "manual", disabledAt: now }
          : {}),
        updatedAt: now,
      }),
    ],
    [event],
  );
  return dto(ctx)((await repo.findEndpoint(db, principal.accountId, id))!);
}

export async function deleteEndpoint(ctx: AuthedCtx, id: string) {
  const found = await findOwn(ctx, id);
  const event = webhookEvent(ctx, "webhook.deleted", id, { url: found.url });
  await commit(ctx, [repo.deleteEndpoint(ctx.db, ctx.principal.accountId, id)], [event]);
}

/** A new secret; the old one keeps signing (both signatures are sent) for the overlap window. */
export async function rotateSecret(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const found = await findOwn(ctx, id);
  const secret = newWebhookSecret();
  const event = webhookEvent(ctx, "webhook.secret_rotated", id, {
    previous_valid_until: iso(now + ROTATION_OVERLAP_MS),
  });
  await commit(
    ctx,
    [
      repo.updateEndpoint(db, principal.accountId, id, {
        secret,
        previousSecret: found.secret,
        previousSecretExpiresAt: now + ROTATION_OVERLAP_MS,
        updatedAt: now,
      }),
    ],
    [event],
  );
  return {
    ...dto(ctx)({
      ...found,
      secret,
      previousSecret: found.secret,
      previousSecretExpiresAt: now + ROTATION_OVERLAP_MS,
      updatedAt: now,
    }),
    secret,
  };
}

export async function listDeliveries(ctx: AuthedCtx, id: string, limit: number, cursor?: string) {
  await findOwn(ctx, id);
  const rows = await repo.listDeliveries(
    ctx.db,
    ctx.principal.accountId,
    id,
    limit,
    decodeCursor(cursor),
  );
  const page = rows.slice(0, limit);
  const attempts = await repo.attemptsOf(
    ctx.db,
    ctx.principal.accountId,
    page.map((d) => d.id),
  );
  return toPage(
    rows,
    limit,
    (d) => ({
      id: d.id,
      event_id: d.eventId,
      event_type: d.eventType,
      status: d.status,
      attempts: d.attempts,
      max_attempts: MAX_ATTEMPTS,
      last_status_code: d.lastStatusCode,
      last_error: d.lastError,
      next_attempt_at: d.status === "pending" ? iso(d.nextAttemptAt) : null,
      created_at: iso(d.createdAt)!,
      log: attempts
        .filter((a) => a.deliveryId === d.id)
        .map((a) => ({
          attempt: a.attempt,
          at: iso(a.attemptedAt)!,
          status_code: a.statusCode,
          error: a.error,
          duration_ms: a.durationMs,
        })),
    }),
    (d) => d.id,
  );
}

/** Sends a `webhook.test` event at once (one attempt, not retried) and says how it went. */
export async function sendTest(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const endpoint = await findOwn(ctx, id);
  if (endpoint.status !== "enabled")
    throw new AppError("validation_failed", "The endpoint is disabled; enable it first.", {
      errors: [{ path: "status", code: "disabled", message: "disabled" }],
    });
  const eventId = newId("event");
  const payload = JSON.stringify({
    type: "webhook.test",
    timestamp: new Date(now).toISOString(),
    data: {
      id: eventId,
      type: "webhook.test",
      occurred_at: new Date(now).toISOString(),
      account_id: principal.accountId,
      endpoint_id: id,
    },
  });
  const deliveryId = newId("delivery");
  await commit(ctx, [
    repo.insertDeliveryOnce(db, {
      id: deliveryId,
      accountId: principal.accountId,
      endpointId: id,
      eventId,
      eventType: "webhook.test",
      payload,
      status: "pending",
      attempts: 0,
      lastStatusCode: null,
      lastError: null,
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    }),
  ]);
  const outcome = await attemptDelivery(ctx, deliveryId, 1, { final: true });
  return {
    delivery_id: deliveryId,
    event_id: eventId,
    success: outcome.status === "succeeded",
    status_code: outcome.statusCode,
    error: outcome.error,
  };
}

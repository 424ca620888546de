/**
 * From the event stream to signed HTTP deliveries. One delivery per (endpoint, event),
 * one claimed attempt at a time, retried with exponential backoff and jitter over more
 * than a day; `webhook-id` is the event id on every attempt, so receivers can dedupe.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { buildEvent, insertEvent, publish } from "../activity/record";
import { toEventDto } from "../activity/service";
import type { Ctx } from "../context";
import { runBatch } from "../db/batch";
import { activityEvents, webhookDeliveries } from "../db/schema";
import { newId } from "../lib/ids";
import * as repo from "./repo";
import { signatureHeaders } from "./signing";
import { checkWebhookTarget } from "./target-policy";

/**
 * Seconds to wait after failed attempt n: 7 attempts spread over about 29 hours, and over
 * at least 24 whatever the jitter draws. A queue message waits at most 12 hours, so the
 * last base is clipped there; the others stay below it even at +20%, so each wait is
 * longer than the one before.
 */
export const RETRY_DELAYS_S = [60, 600, 3600, 7 * 3600, 9 * 3600, 14 * 3600];
export const MAX_ATTEMPTS = RETRY_DELAYS_S.length + 1;
/** Consecutive failed attempts (across deliveries) after which an endpoint is disabled. */
export const DISABLE_AFTER_FAILURES = 15;
const TIMEOUT_MS = 10_000;

/** ±20% jitter, so endpoints that failed together do not all retry together. */
export function retryDelaySeconds(failedAttempt: number, random = Math.random): number {
  const base = RETRY_DELAYS_S[Math.min(failedAttempt, RETRY_DELAYS_S.length) - 1]!;
  return Math.min(43_200, Math.round(base * (0.8 + 0.4 * random())));
}

export const StreamMessage = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("event"), id: z.string().min(1), account_id: z.string().min(1) }),
  z.object({
    kind: z.literal("deliver"),
    delivery_id: z.string().min(1),
    attempt: z.number().int().min(1).max(MAX_ATTEMPTS),
  }),
]);
export type StreamMessage = z.infer<typeof StreamMessage>;

export const webhookPayload = (event: typeof activityEvents.$inferSelect) =>
  JSON.stringify({
    type: event.type,
    timestamp: new Date(event.occurredAt).toISOString(),
    data: toEventDto(event),
  });

/** An event reaches its subscribers: deliveries are created once, however often the message comes. */
export async function fanOut(ctx: Ctx, eventId: string) {
  const { db, now } = ctx;
  const [event] = await db
    .select()
    .from(activityEvents)
    .where(sql`${activityEvents.id} = ${eventId}`);
  if (!event) return;
  const endpoints = await repo.subscribers(db, event.accountId, event.type, event.occurredAt);
  const payload = webhookPayload(event);
  await runBatch(db, [
    ...endpoints.map((e) =>
      repo.insertDeliveryOnce(db, {
        id: newId("delivery"),
        accountId: event.accountId,
        endpointId: e.id,
        eventId: event.id,
        eventType: event.type,
        payload,
        status: "pending",
        attempts: 0,
        lastStatusCode: null,
        lastError: null,
        nextAttemptAt: now,
        createdAt: now,
        updatedAt: now,
      }),
    ),
    sql`UPDATE activity_events SET streamed_at = ${now} WHERE id = ${event.id} AND streamed_at IS NULL`,
  ]);
  const pending = endpoints.length ? await repo.pendingDeliveriesOf(db, event.id) : [];
  if (pending.length)
    await ctx.env.EVENTS.sendBatch(
      pending.map((d) => ({
        body: { kind: "deliver", delivery_id: d.id, attempt: 1 } satisfies StreamMessage,
      })),
    );
}

function disableStatements(
  ctx: Ctx,
  endpoint: repo.EndpointRow,
  reason: "gone" | "repeated_failures",
) {
  const event = buildEvent(ctx, {
    type: "webhook.endpoint_disabled",
    accountId: endpoint.accountId,
    actor: { type: "system", id: null },
    subject: { type: "webhook_endpoint", id: endpoint.id },
    metadata: { url: endpoint.url, reason },
  });
  // Attempts to the endpoint may fail at the same time: only the first to disable it records that.
  return {
    event,
    statements: [
      insertEvent(
        ctx.db,
        event,
        sql`EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ${endpoint.id} AND status = 'enabled')`,
      ),
      repo.disableEndpoint(ctx.db, endpoint.accountId, endpoint.id, reason, ctx.now),
    ],
  };
}

export interface AttemptOutcome {
  status: "succeeded" | "retrying" | "failed" | "skipped";
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: number | null;
}

/** Makes attempt `attempt` of a delivery, if this caller wins the claim, and schedules what follows. */
export async function attemptDelivery(
  ctx: Ctx,
  deliveryId: string,
  attempt: number,
  opts: { final?: boolean } = {},
): Promise<AttemptOutcome> {
  const { db, now } = ctx;
  const skipped: AttemptOutcome = {
    status: "skipped",
    statusCode: null,
    error: null,
    nextAttemptAt: null,
  };
  const found = await repo.findDelivery(db, deliveryId);
  if (found?.delivery.status !== "pending" || found.delivery.attempts !== attempt - 1)
    return skipped;
  const { delivery, endpoint } = found;
  if (endpoint.status !== "enabled") {
    await runBatch(db, [
      db
        .update(webhookDeliveries)
        .set({
          status: "failed",
          lastError: "endpoint disabled",
          nextAttemptAt: null,
          updatedAt: now,
        })
        .where(sql`${webhookDeliveries.id} = ${delivery.id}`),
    ]);
    return { ...skipped, status: "failed", error: "endpoint disabled" };
  }
  const [claim] = await runBatch(db, [repo.claimAttempt(db, delivery.id, attempt, now)]);
  if (!claim?.meta.changes) return skipped;

  const secrets = [
    endpoint.secret,
    ...(endpoint.previousSecret && (endpoint.previousSecretExpiresAt ?? 0) > now
      ? [endpoint.previousSecret]
      : []),
  ];
  const started = Date.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    checkWebhookTarget(endpoint.url, ctx.env.ENVIRONMENT);
    const headers = await signatureHeaders(
      secrets,
      delivery.eventId,
      Math.floor(now / 1000),
      delivery.payload,
    );
    const res = await fetch(endpoint.url, {
      method: "POST",
      headers: {
        ...headers,
        "content-type": "application/json",
        "user-agent": "user-management-webhooks/1",
      },
      body: delivery.payload,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    statusCode = res.status;
    await res.body?.cancel();
  } catch (err) {
    error = String((err as Error)?.message ?? err).slice(0, 500);
  }
  const duration = Date.now() - started;
  const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const gone = statusCode === 410;
  const last = opts.final || attempt >= MAX_ATTEMPTS || gone;
  const failures = ok ? 0 : endpoint.consecutiveFailures + 1;
  const disable = gone
    ? "gone"
    : !ok && failures >= DISABLE_AFTER_FAILURES
      ? "repeated_failures"
      : null;
  const delay = !ok && !last ? retryDelaySeconds(attempt) : null;
  const nextAttemptAt = delay !== null ? now + delay * 1000 : null;
  const disabling = disable ? disableStatements(ctx, endpoint, disable) : null;
  if (!ok && !error) error = `HTTP ${statusCode}`;

  await runBatch(db, [
    repo.insertAttempt(db, {
      deliveryId: delivery.id,
      attempt,
      attemptedAt: now,
      statusCode,
      error: ok ? null : error,
      durationMs: duration,
    }),
    db
      .update(webhookDeliveries)
      .set({
        status: ok ? "succeeded" : last || disable ? "failed" : "pending",
        lastStatusCode: statusCode,
        lastError: ok ? null : error,
        nextAttemptAt: disable ? null : nextAttemptAt,
        updatedAt: now,
      })
      .where(sql`${webhookDeliveries.id} = ${delivery.id}`),
    repo.countOutcome(db, endpoint.accountId, endpoint.id, ok),
    ...(disabling?.statements ?? []),
  ]);
  if (disabling) publish(ctx, [disabling.event]);
  if (delay !== null && !disable) {
    await ctx.env.EVENTS.send(
      { kind: "deliver", delivery_id: delivery.id, attempt: attempt + 1 } satisfies StreamMessage,
      { delaySeconds: delay },
    );
  }
  return {
    status: ok ? "succeeded" : delay !== null && !disable ? "retrying" : "failed",
    statusCode,
    error: ok ? null : error,
    nextAttemptAt: disable ? null : nextAttemptAt,
  };
}

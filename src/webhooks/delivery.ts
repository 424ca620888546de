/**
 * From the event stream to signed HTTP deliveries. One delivery per (endpoint, event),
 * one claimed attempt at a time, retried with exponential backoff and jitter over more
 * than a day; `webhook-id` is the event id on every attempt, so receivers can dedupe.
 */
import { z } from "zod";
import type { EventInput } from "../activity/record";
import { markStreamed } from "../activity/repo";
import { toEventDto } from "../activity/service";
import type { Ctx } from "../context";
import { commit } from "../db/commit";
import { batchReads } from "../db/read";
import type { ActivityEventRow } from "../db/schema";
import { MailMessage } from "../invitations/mail";
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
const RETRY_DELAYS_S = [60, 600, 3600, 7 * 3600, 9 * 3600, 14 * 3600];
export const MAX_ATTEMPTS = RETRY_DELAYS_S.length + 1;
/** Consecutive failed attempts (across deliveries) after which an endpoint is disabled. */
const DISABLE_AFTER_FAILURES = 15;
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
  MailMessage,
]);
export type StreamMessage = z.infer<typeof StreamMessage>;

const webhookPayload = (event: ActivityEventRow) =>
  JSON.stringify({
    type: event.type,
    timestamp: new Date(event.occurredAt).toISOString(),
    data: toEventDto(event),
  });

/** An event a stream message names, in the account the message names. */
export interface EventRef {
  accountId: string;
  eventId: string;
}

/** A queue may not take more messages than this in one send. */
const SEND_BATCH_MAX = 100;

/**
 * Events reach their subscribers: deliveries are created once, however often a message
 * comes. However many events, this is two D1 round trips (per account, its events that
 * something subscribes to; then one transaction writing every delivery and mark) and, when
 * anything subscribed, the sends of the deliveries.
 */
export async function fanOut(ctx: Ctx, refs: EventRef[]) {
  const { db, now } = ctx;
  // A message the queue delivered twice in one batch is fanned out once.
  const byAccount = new Map<string, Set<string>>();
  for (const { accountId, eventId } of refs) {
    const ids = byAccount.get(accountId) ?? new Set<string>();
    byAccount.set(accountId, ids.add(eventId));
  }
  if (byAccount.size === 0) return;
  const accounts = [...byAccount].map(([accountId, ids]) => ({ accountId, ids: [...ids] }));
  const read = await batchReads(
    db,
    accounts.map(({ accountId, ids }) =>
      repo.subscribedEvents(db, { accountId, ids: JSON.stringify(ids) }),
    ),
  );
  const subscribed = new Map<string, { event: ActivityEventRow; endpointIds: string[] }>();
  for (const rows of read as (ActivityEventRow & { endpointId: string })[][]) {
    for (const { endpointId, ...event } of rows) {
      const found = subscribed.get(event.id);
      if (found) found.endpointIds.push(endpointId);
      else subscribed.set(event.id, { event, endpointIds: [endpointId] });
    }
  }
  const inserts = [...subscribed.values()].flatMap(({ event, endpointIds }) => {
    const payload = webhookPayload(event);
    return endpointIds.map((endpointId) =>
      repo.insertDeliveryOnce(db, {
        id: newId("delivery"),
        accountId: event.accountId,
        endpointId,
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
    );
  });
  const marks = accounts.map(({ accountId, ids }) =>
    markStreamed({ accountId, ids: JSON.stringify(ids), now }),
  );
  // Read after the inserts, in their transaction: a delivery an earlier copy of the message
  // created, but whose send was lost, is sent now too.
  const pendingReads = accounts.flatMap(({ accountId, ids }) => {
    const withSubscribers = ids.filter((id) => subscribed.has(id));
    return withSubscribers.length > 0
      ? [repo.pendingDeliveriesOf(db, accountId, withSubscribers)]
      : [];
  });
  const results = await commit(ctx, [...inserts, ...marks, ...pendingReads]);
  const pending = results
    .slice(inserts.length + marks.length)
    .flatMap((r) => r.rows.map((row) => String(row.id)));
  for (let i = 0; i < pending.length; i += SEND_BATCH_MAX) {
    await ctx.env.EVENTS.sendBatch(
      pending.slice(i, i + SEND_BATCH_MAX).map((id) => ({
        body: { kind: "deliver", delivery_id: id, attempt: 1 } satisfies StreamMessage,
      })),
    );
  }
}

/** Disables the endpoint; attempts may fail at once, so only the first to disable it records that. */
function disabling(endpoint: repo.EndpointRow, reason: "gone" | "repeated_failures", now: number) {
  const { accountId, id } = endpoint;
  const event: EventInput = {
    type: "webhook.endpoint_disabled",
    accountId,
    actor: { type: "system", id: null },
    subject: { type: "webhook_endpoint", id },
    metadata: { url: endpoint.url, reason },
    when: repo.endpointEnabled(accountId, id),
  };
  return { event, statement: repo.disableEndpoint(accountId, id, reason, now) };
}

interface AttemptOutcome {
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
  const found = await repo.findDeliveryAcrossAccounts(db, deliveryId);
  if (found?.delivery.status !== "pending" || found.delivery.attempts !== attempt - 1)
    return skipped;
  const { delivery, endpoint } = found;
  const { accountId } = delivery;
  // A paused endpoint (the plan lacks webhooks) is treated as disabled here, but left
  // enabled, so an upgrade resumes it; what it missed meanwhile is not sent later.
  const stopped =
    endpoint.status !== "enabled"
      ? "endpoint disabled"
      : !found.inPlan
        ? "webhooks not in the account's plan"
        : null;
  if (stopped) {
    const set = { status: "failed" as const, lastError: stopped, nextAttemptAt: null };
    await commit(ctx, [
      repo.updateDelivery(db, accountId, delivery.id, { ...set, updatedAt: now }),
    ]);
    return { ...skipped, status: "failed", error: stopped };
  }
  const [claim] = await commit(ctx, [repo.claimAttempt(db, accountId, delivery.id, attempt, now)]);
  if (!claim?.changes) return skipped;

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
    checkWebhookTarget(endpoint.url, ctx.config.development);
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
  const disabled = disable ? disabling(endpoint, disable, now) : null;
  if (!ok && !error) error = `HTTP ${statusCode}`;

  const statements = [
    repo.insertAttempt(accountId, {
      deliveryId: delivery.id,
      attempt,
      attemptedAt: now,
      statusCode,
      error: ok ? null : error,
      durationMs: duration,
    }),
    repo.updateDelivery(db, accountId, delivery.id, {
      status: ok ? "succeeded" : last || disable ? "failed" : "pending",
      lastStatusCode: statusCode,
      lastError: ok ? null : error,
      nextAttemptAt: disable ? null : nextAttemptAt,
      updatedAt: now,
    }),
    repo.countOutcome(db, accountId, endpoint.id, ok),
    ...(disabled ? [disabled.statement] : []),
  ];
  await commit(ctx, statements, disabled ? [disabled.event] : []);
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

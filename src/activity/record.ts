/**
 * Activity events are written in the same batch as the change they record, so the audit
 * trail never misses a committed change; after commit they go to the EVENTS queue (a
 * transactional outbox: the row is the truth, the send is best effort and re-sent by cron).
 */
import type { SQL } from "drizzle-orm";
import { sql } from "drizzle-orm";
import type { AuthMethod, Ctx, Principal } from "../context";
import type { Database } from "../db/client";
import { activityEvents } from "../db/schema";
import { newId } from "../lib/ids";

export const EVENT_TYPES = [
  "auth.login.succeeded",
  "auth.login.failed",
  "auth.logout",
  "auth.token_refreshed",
  "auth.api_token_used",
  "auth.sso.succeeded",
  "auth.refresh_token_reused",
  "user.created",
  "user.updated",
  "user.email_change_requested",
  "user.email_changed",
  "user.disabled",
  "user.enabled",
  "user.deleted",
  "user.password_reset",
  "user.password_reset_requested",
  "user.password_changed",
  "user.groups_changed",
  "invitation.created",
  "invitation.resent",
  "invitation.revoked",
  "invitation.accepted",
  "invitation.expired",
  "group.created",
  "group.updated",
  "group.deleted",
  "account.created",
  "account.updated",
  "account.plan_changed",
  "account.capacity_changed",
  "capacity.limit_reached",
  "device.added",
  "device.removed",
  "device_organization.created",
  "api_token.created",
  "api_token.revoked",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "webhook.endpoint_disabled",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export type ActorType = "user" | "api_token" | "platform" | "reseller" | "system" | "anonymous";

export interface EventInput {
  type: EventType;
  accountId: string;
  actor?: { type: ActorType; id: string | null };
  subject?: { type: string; id: string };
  method?: AuthMethod | null;
  metadata?: Record<string, unknown>;
}

export type EventRow = typeof activityEvents.$inferInsert;

/** The actor a principal stands for: an API token acts as its creator but is named as itself. */
export function actorOf(principal: Principal): { type: ActorType; id: string } {
  return principal.kind === "api_token"
    ? { type: "api_token", id: principal.tokenId! }
    : { type: "user", id: principal.userId };
}

export function buildEvent(ctx: Ctx, input: EventInput): EventRow {
  return {
    id: newId("event"),
    accountId: input.accountId,
    type: input.type,
    occurredAt: ctx.now,
    actorType: input.actor?.type ?? "anonymous",
    actorId: input.actor?.id ?? null,
    subjectType: input.subject?.type ?? null,
    subjectId: input.subject?.id ?? null,
    method: input.method ?? null,
    ip: ctx.meta.ip,
    userAgent: ctx.meta.userAgent,
    metadata: input.metadata ?? {},
  };
}

/** The insert to put in the change's batch; `when` makes it conditional on the same batch's state. */
export function insertEvent(db: Database, event: EventRow, when?: SQL) {
  if (!when) return db.insert(activityEvents).values(event);
  return sql`INSERT INTO activity_events
    (id, account_id, type, occurred_at, actor_type, actor_id, subject_type, subject_id, method, ip, user_agent, metadata)
    SELECT ${event.id}, ${event.accountId}, ${event.type}, ${event.occurredAt}, ${event.actorType}, ${event.actorId},
      ${event.subjectType}, ${event.subjectId}, ${event.method}, ${event.ip}, ${event.userAgent},
      ${JSON.stringify(event.metadata ?? {})}
    WHERE ${when}`;
}

/** After commit: hand the events to the stream. Failure is fine; the cron re-sends unstreamed rows. */
export function publish(ctx: Ctx, events: EventRow[]): void {
  if (events.length === 0) return;
  ctx.waitUntil(
    ctx.env.EVENTS.sendBatch(
      events.map((e) => ({ body: { kind: "event", id: e.id, account_id: e.accountId } })),
    ).catch((err) =>
      console.warn(
        JSON.stringify({
          msg: "event publish failed",
          request_id: ctx.meta.requestId,
          err: String(err),
        }),
      ),
    ),
  );
}

/**
 * Activity events: what they are, and how one becomes a row and a stream message.
 * `commit()` (src/db/commit.ts) writes them in the same batch as the change they record,
 * so the audit trail never misses a committed change, and hands them to the EVENTS queue
 * after commit, through `ctx.send` (a transactional outbox: the row is the truth, the send
 * is best effort and re-sent by the cron).
 */
import type { SQL } from "drizzle-orm";
import type { AuthMethod, Ctx, Principal } from "../context";
import type { ActivityEventRow } from "../db/schema";
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
  "user.email_change_cancelled",
  "user.email_changed",
  "user.disabled",
  "user.enabled",
  "user.deleted",
  "user.password_reset",
  "user.password_reset_requested",
  "user.password_changed",
  "user.groups_changed",
  "user.sessions_revoked",
  "invitation.created",
  "invitation.resent",
  "invitation.revoked",
  "invitation.accepted",
  "invitation.expired",
  "invitation.delivery_failed",
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
  "device.paired_again",
  "device_organization.created",
  "api_token.created",
  "api_token.revoked",
  "scim_token.created",
  "scim_token.revoked",
  "sso_connection.updated",
  "sso_connection.deleted",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "webhook.endpoint_disabled",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

type ActorType =
  | "user"
  | "api_token"
  | "scim_token"
  | "platform"
  | "reseller"
  | "system"
  | "anonymous";

export interface EventInput {
  type: EventType;
  accountId: string;
  actor?: { type: ActorType; id: string | null };
  subject?: { type: string; id: string };
  method?: AuthMethod | null;
  metadata?: Record<string, unknown>;
  /** Recorded only when this holds inside the change's batch (so racing writers record one). */
  when?: SQL;
}

export type EventRow = ActivityEventRow;

/** The actor a principal stands for: an API token acts as its creator but is named as itself. */
function actorOf(principal: Principal): { type: ActorType; id: string } {
  return principal.kind === "api_token"
    ? { type: "api_token", id: principal.tokenId! }
    : { type: "user", id: principal.userId };
}

/** Who acted and how they signed in, as every event a principal causes records it. */
export function by(principal: Principal): Pick<EventInput, "accountId" | "actor" | "method"> {
  return { accountId: principal.accountId, actor: actorOf(principal), method: principal.method };
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
    streamedAt: null,
  };
}

/** After commit: hand the events to the stream. Failure is fine; the cron re-sends unstreamed rows. */
export function publish(ctx: Ctx, events: EventRow[]): void {
  if (events.length === 0) return;
  ctx.send(events.map((e) => ({ kind: "event", id: e.id, account_id: e.accountId })));
}

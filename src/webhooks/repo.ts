/** Data access for webhook endpoints, deliveries and attempts. Account id first, always. */
import {
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  gt,
  lt,
  type Placeholder,
  type SQL,
  sql,
} from "drizzle-orm";
import type { Database } from "../db/client";
import { onceRead, slot } from "../db/compiled";
import { activityEvents, webhookAttempts, webhookDeliveries, webhookEndpoints } from "../db/schema";

export type EndpointRow = typeof webhookEndpoints.$inferSelect;

export function listEndpoints(db: Database, accountId: string, limit: number, after?: string) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.accountId, accountId),
        after ? gt(webhookEndpoints.id, after) : undefined,
      ),
    )
    .orderBy(asc(webhookEndpoints.id))
    .limit(limit + 1);
}

export async function findEndpoint(db: Database, accountId: string, id: string) {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.accountId, accountId), eq(webhookEndpoints.id, id)));
  return row ?? null;
}

export function insertEndpoint(db: Database, row: typeof webhookEndpoints.$inferInsert) {
  return db.insert(webhookEndpoints).values(row);
}

export function updateEndpoint(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof webhookEndpoints.$inferInsert>,
) {
  return db
    .update(webhookEndpoints)
    .set(set)
    .where(and(eq(webhookEndpoints.accountId, accountId), eq(webhookEndpoints.id, id)));
}

/** A success clears the failure count; a failure adds one in SQL, so concurrent failures all count. */
export function countOutcome(db: Database, accountId: string, id: string, ok: boolean) {
  return db
    .update(webhookEndpoints)
    .set({ consecutiveFailures: ok ? 0 : sql`${webhookEndpoints.consecutiveFailures} + 1` })
    .where(and(eq(webhookEndpoints.accountId, accountId), eq(webhookEndpoints.id, id)));
}

/** Disables an endpoint that is still enabled, keeping the first reason and time. */
export function disableEndpoint(accountId: string, id: string, reason: string, now: number) {
  return sql`UPDATE webhook_endpoints
    SET status = 'disabled', disabled_reason = ${reason}, disabled_at = ${now}, updated_at = ${now}
    WHERE account_id = ${accountId} AND id = ${id} AND status = 'enabled'`;
}

/** True while the endpoint is enabled (so only the first of racing failures disables it). */
export const endpointEnabled = (accountId: string, id: string) =>
  sql`EXISTS (SELECT 1 FROM webhook_endpoints
    WHERE account_id = ${accountId} AND id = ${id} AND status = 'enabled')`;

export function deleteEndpoint(db: Database, accountId: string, id: string) {
  return db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.accountId, accountId), eq(webhookEndpoints.id, id)));
}

/** True while the account's plan includes webhooks; without it its endpoints are paused. */
const webhooksInPlan = (accountId: string | SQL | Placeholder) =>
  sql`EXISTS (SELECT 1 FROM accounts a JOIN plans p ON p.id = a.plan_id, json_each(p.features) f
    WHERE a.id = ${accountId} AND f.value = 'webhooks')`;

/**
 * The account's events among `ids` (a JSON array) that something subscribes to, one row per
 * (event, endpoint): enabled endpoints that take the event's type (or everything) and existed
 * when it happened, so an endpoint added later does not receive the past. Nothing while the
 * account's plan lacks webhooks (paused, not disabled). One statement per account however
 * many events: an account without endpoints, the common case, costs one empty lookup.
 */
export const subscribedEvents = onceRead((db: Database) =>
  db
    .select({
      ...getTableColumns(activityEvents),
      endpointId: sql<string>`${webhookEndpoints.id}`.as("endpoint_id"),
    })
    .from(webhookEndpoints)
    .innerJoin(
      activityEvents,
      and(
        eq(activityEvents.accountId, webhookEndpoints.accountId),
        sql`${activityEvents.id} IN (SELECT value FROM json_each(${slot("ids")}))`,
        sql`${webhookEndpoints.createdAt} <= ${activityEvents.occurredAt}`,
        sql`EXISTS (SELECT 1 FROM json_each(${webhookEndpoints.events})
          WHERE value = '*' OR value = ${activityEvents.type})`,
      ),
    )
    .where(
      and(
        eq(webhookEndpoints.accountId, slot("accountId")),
        eq(webhookEndpoints.status, "enabled"),
        webhooksInPlan(slot("accountId")),
      ),
    ),
);

/** One delivery per (endpoint, event): a repeated message inserts nothing. */
export function insertDeliveryOnce(db: Database, row: typeof webhookDeliveries.$inferInsert) {
  return db
    .insert(webhookDeliveries)
    .values(row)
    .onConflictDoNothing({ target: [webhookDeliveries.endpointId, webhookDeliveries.eventId] });
}

/**
 * A delivery with its endpoint and whether the account's plan includes webhooks, for the
 * queue's consumer: across accounts on purpose, since a queue message names the delivery;
 * every write after it is scoped to its account.
 */
export async function findDeliveryAcrossAccounts(db: Database, id: string) {
  const [row] = await db
    .select({
      delivery: webhookDeliveries,
      endpoint: webhookEndpoints,
      inPlan: sql<number>`${webhooksInPlan(sql`${webhookDeliveries.accountId}`)}`,
    })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, id));
  return row ?? null;
}

export function updateDelivery(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof webhookDeliveries.$inferInsert>,
) {
  return db
    .update(webhookDeliveries)
    .set(set)
    .where(and(eq(webhookDeliveries.accountId, accountId), eq(webhookDeliveries.id, id)));
}

/** The account's deliveries of these events (a JSON array) that no attempt has taken yet. */
export function pendingDeliveriesOf(db: Database, accountId: string, eventIds: string[]) {
  return db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.accountId, accountId),
        sql`${webhookDeliveries.eventId} IN (SELECT value FROM json_each(${JSON.stringify(eventIds)}))`,
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
      ),
    );
}

/** Claims attempt `attempt` (1-based): only one consumer of a duplicated message gets it. */
export function claimAttempt(
  db: Database,
  accountId: string,
  id: string,
  attempt: number,
  now: number,
) {
  return db
    .update(webhookDeliveries)
    .set({ attempts: attempt, updatedAt: now })
    .where(
      and(
        eq(webhookDeliveries.accountId, accountId),
        eq(webhookDeliveries.id, id),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, attempt - 1),
      ),
    );
}

/** Records an attempt of one of the account's deliveries. */
export function insertAttempt(accountId: string, row: typeof webhookAttempts.$inferInsert) {
  return sql`INSERT INTO webhook_attempts
      (delivery_id, attempt, attempted_at, status_code, error, duration_ms)
    SELECT ${row.deliveryId}, ${row.attempt}, ${row.attemptedAt}, ${row.statusCode ?? null},
      ${row.error ?? null}, ${row.durationMs}
    WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE account_id = ${accountId} AND id = ${row.deliveryId})`;
}

export function listDeliveries(
  db: Database,
  accountId: string,
  endpointId: string,
  limit: number,
  before?: string,
) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.accountId, accountId),
        eq(webhookDeliveries.endpointId, endpointId),
        before ? lt(webhookDeliveries.id, before) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit + 1);
}

/** The attempts of these deliveries of the account, oldest first. */
export function attemptsOf(db: Database, accountId: string, deliveryIds: string[]) {
  if (deliveryIds.length === 0) return Promise.resolve([]);
  return db
    .select({ attempt: webhookAttempts })
    .from(webhookAttempts)
    .innerJoin(webhookDeliveries, eq(webhookDeliveries.id, webhookAttempts.deliveryId))
    .where(
      and(
        eq(webhookDeliveries.accountId, accountId),
        sql`${webhookAttempts.deliveryId} IN (SELECT value FROM json_each(${JSON.stringify(deliveryIds)}))`,
      ),
    )
    .orderBy(asc(webhookAttempts.attempt))
    .then((rows) => rows.map((r) => r.attempt));
}

/** Deliveries whose next attempt is long overdue: across accounts on purpose, for the cron. */
export function listStalledDeliveriesAcrossAccounts(db: Database, before: number, limit: number) {
  return db
    .select({ id: webhookDeliveries.id, attempts: webhookDeliveries.attempts })
    .from(webhookDeliveries)
    .where(
      and(eq(webhookDeliveries.status, "pending"), lt(webhookDeliveries.nextAttemptAt, before)),
    )
    .orderBy(webhookDeliveries.nextAttemptAt)
    .limit(limit);
}

/** Deletes up to `chunk` deliveries (each a copy of its event) older than `cutoff`, for retention. */
export function pruneDeliveriesAcrossAccounts(cutoff: number, chunk: number) {
  return sql`DELETE FROM webhook_deliveries WHERE id IN
    (SELECT id FROM webhook_deliveries WHERE created_at < ${cutoff} LIMIT ${chunk})`;
}

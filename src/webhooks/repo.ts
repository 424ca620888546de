/** Data access for webhook endpoints, deliveries and attempts. Account id first, always. */
import { and, asc, desc, eq, gt, lt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from "../db/schema";

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

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
export function disableEndpoint(
  db: Database,
  accountId: string,
  id: string,
  reason: string,
  now: number,
) {
  return db
    .update(webhookEndpoints)
    .set({ status: "disabled", disabledReason: reason, disabledAt: now, updatedAt: now })
    .where(
      and(
        eq(webhookEndpoints.accountId, accountId),
        eq(webhookEndpoints.id, id),
        eq(webhookEndpoints.status, "enabled"),
      ),
    );
}

export function deleteEndpoint(db: Database, accountId: string, id: string) {
  return db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.accountId, accountId), eq(webhookEndpoints.id, id)));
}

/**
 * Enabled endpoints of the account that subscribe to the type (or to everything) and
 * existed when the event happened: an endpoint added later does not receive the past.
 */
export function subscribers(db: Database, accountId: string, type: string, occurredAt: number) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.accountId, accountId),
        eq(webhookEndpoints.status, "enabled"),
        sql`${webhookEndpoints.createdAt} <= ${occurredAt}`,
        sql`EXISTS (SELECT 1 FROM json_each(${webhookEndpoints.events}) WHERE value = '*' OR value = ${type})`,
      ),
    );
}

/** One delivery per (endpoint, event): a repeated message inserts nothing. */
export function insertDeliveryOnce(db: Database, row: typeof webhookDeliveries.$inferInsert) {
  return db
    .insert(webhookDeliveries)
    .values(row)
    .onConflictDoNothing({ target: [webhookDeliveries.endpointId, webhookDeliveries.eventId] });
}

export async function findDelivery(db: Database, id: string) {
  const [row] = await db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, id));
  return row ?? null;
}

export function pendingDeliveriesOf(db: Database, eventId: string) {
  return db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.eventId, eventId),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
      ),
    );
}

/** Claims attempt `attempt` (1-based): only one consumer of a duplicated message gets it. */
export function claimAttempt(db: Database, id: string, attempt: number, now: number) {
  return db
    .update(webhookDeliveries)
    .set({ attempts: attempt, updatedAt: now })
    .where(
      and(
        eq(webhookDeliveries.id, id),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, attempt - 1),
      ),
    );
}

export function insertAttempt(db: Database, row: typeof webhookAttempts.$inferInsert) {
  return db.insert(webhookAttempts).values(row);
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

export function attemptsOf(db: Database, deliveryIds: string[]) {
  if (deliveryIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(webhookAttempts)
    .where(
      sql`${webhookAttempts.deliveryId} IN (${sql.join(
        deliveryIds.map((id) => sql`${id}`),
        sql`, `,
      )})`,
    )
    .orderBy(asc(webhookAttempts.attempt));
}

/**
 * The activity log: writing an event (inside its change's batch), and reading it newest
 * first, keyset-paged on (occurred_at, id), always account-scoped.
 */
import { and, desc, eq, gte, lt, lte, or, type SQL, sql } from "drizzle-orm";
import type { Statement } from "../db/batch";
import type { Database } from "../db/client";
import { once, slot } from "../db/compiled";
import { activityEvents } from "../db/schema";

export type EventRecord = typeof activityEvents.$inferSelect;

const EVENT_FIELDS = [
  "id",
  "accountId",
  "type",
  "occurredAt",
  "actorType",
  "actorId",
  "subjectType",
  "subjectId",
  "method",
  "ip",
  "userAgent",
  "metadata",
] as const;

const eventInsert = (values: unknown[], when: SQL) =>
  sql`INSERT INTO activity_events (id, account_id, type, occurred_at, actor_type, actor_id,
      subject_type, subject_id, method, ip, user_agent, metadata)
    SELECT ${sql.join(
      values.map((v) => sql`${v}`),
      sql`, `,
    )} WHERE ${when}`;

const eventValues = (event: EventRecord): Record<string, unknown> => ({
  ...event,
  metadata: JSON.stringify(event.metadata ?? {}),
});

/** An event without a condition is the same statement every time: compiled once. */
const unconditional = once(() =>
  eventInsert(
    EVENT_FIELDS.map((key) => slot(key)),
    sql`1`,
  ),
);

/** The event's insert, for its change's batch; with `when`, only if that holds in the batch. */
export function insertEvent(event: EventRecord, when?: SQL): Statement {
  const values = eventValues(event);
  if (!when) return unconditional(values);
  return eventInsert(
    EVENT_FIELDS.map((key) => values[key]),
    when,
  );
}

export interface ActivityFilter {
  userId?: string;
  /** Exact, or a prefix ending in `*` (`auth.*`). */
  type?: string;
  method?: string;
  ip?: string;
  since?: number;
  until?: number;
}

export interface Position {
  at: number;
  id: string;
}

function conditions(accountId: string, f: ActivityFilter, after?: Position): SQL[] {
  const list: (SQL | undefined)[] = [eq(activityEvents.accountId, accountId)];
  if (f.userId)
    list.push(or(eq(activityEvents.subjectId, f.userId), eq(activityEvents.actorId, f.userId)));
  // SQLite's LIKE has no escape character unless told: without ESCAPE, `\_` matches nothing.
  if (f.type)
    list.push(
      f.type.endsWith("*")
        ? sql`${activityEvents.type} LIKE ${`${f.type.slice(0, -1).replace(/[\\%_]/g, "\\$&")}%`} ESCAPE '\\'`
        : eq(activityEvents.type, f.type),
    );
  if (f.method) list.push(eq(activityEvents.method, f.method));
  if (f.ip) list.push(eq(activityEvents.ip, f.ip));
  if (f.since !== undefined) list.push(gte(activityEvents.occurredAt, f.since));
  if (f.until !== undefined) list.push(lte(activityEvents.occurredAt, f.until));
  if (after)
    list.push(
      or(
        lt(activityEvents.occurredAt, after.at),
        and(eq(activityEvents.occurredAt, after.at), lt(activityEvents.id, after.id)),
      ),
    );
  return list.filter((c): c is SQL => c !== undefined);
}

export function listEvents(
  db: Database,
  accountId: string,
  filter: ActivityFilter,
  limit: number,
  after?: Position,
) {
  return db
    .select()
    .from(activityEvents)
    .where(and(...conditions(accountId, filter, after)))
    .orderBy(desc(activityEvents.occurredAt), desc(activityEvents.id))
    .limit(limit);
}

/** Whether an id names a user of the account now, or anyone its log mentions. */
export async function knownSubject(db: Database, accountId: string, userId: string) {
  const [row] = await db.all<{ known: number }>(sql`SELECT
    EXISTS (SELECT 1 FROM users WHERE account_id = ${accountId} AND id = ${userId})
    OR EXISTS (SELECT 1 FROM activity_events WHERE account_id = ${accountId} AND (subject_id = ${userId} OR actor_id = ${userId})) AS known`);
  return row?.known === 1;
}

/** Events not yet handed to the stream: across accounts on purpose, for the cron. */
export function listUnstreamedAcrossAccounts(db: Database, before: number, limit: number) {
  return db
    .select({ id: activityEvents.id, accountId: activityEvents.accountId })
    .from(activityEvents)
    .where(and(sql`${activityEvents.streamedAt} IS NULL`, lt(activityEvents.occurredAt, before)))
    .orderBy(activityEvents.occurredAt)
    .limit(limit);
}

/** Deletes up to `chunk` events older than `cutoff`: across accounts on purpose, for retention. */
export function pruneEventsAcrossAccounts(cutoff: number, chunk: number) {
  return sql`DELETE FROM activity_events WHERE id IN
    (SELECT id FROM activity_events WHERE occurred_at < ${cutoff} LIMIT ${chunk})`;
}

/** Marks the account's events streamed (the consumer fanned them out); `ids` is a JSON array. */
export const markStreamed = once<{ accountId: string; ids: string; now: number }>(
  () => sql`UPDATE activity_events SET streamed_at = ${slot("now")}
    WHERE account_id = ${slot("accountId")} AND streamed_at IS NULL
      AND id IN (SELECT value FROM json_each(${slot("ids")}))`,
);

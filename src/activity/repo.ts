/** Reading the activity log: newest first, keyset-paged on (occurred_at, id), always account-scoped. */
import { and, desc, eq, gte, lt, lte, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { activityEvents, users } from "../db/schema";

export type EventRecord = typeof activityEvents.$inferSelect;

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

/** Active users who never logged in, or not since `before`. */
export function inactiveUsers(
  db: Database,
  accountId: string,
  before: number,
  limit: number,
  afterId?: string,
) {
  return db
    .select()
    .from(users)
    .where(
      and(
        eq(users.accountId, accountId),
        eq(users.status, "active"),
        or(sql`${users.lastLoginAt} IS NULL`, lt(users.lastLoginAt, before)),
        afterId ? sql`${users.id} > ${afterId}` : undefined,
      ),
    )
    .orderBy(users.id)
    .limit(limit + 1);
}

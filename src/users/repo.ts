/** Data access for users. Every function takes the account id first. */
import { and, asc, eq, gt, or, type SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { groupMemberships, groups, users } from "../db/schema";

export type UserRow = typeof users.$inferSelect;

const groupIdsOf = sql<string>`(SELECT json_group_array(${groupMemberships.groupId}) FROM (SELECT ${groupMemberships.groupId} FROM ${groupMemberships} WHERE ${groupMemberships.userId} = ${users.id} ORDER BY ${groupMemberships.groupId}) AS ${groupMemberships})`;

function withGroups(db: Database) {
  return db.select({ user: users, groupIds: groupIdsOf }).from(users);
}

const parse = (r: { user: UserRow; groupIds: string }) => ({
  user: r.user,
  groupIds: JSON.parse(r.groupIds) as string[],
});

/** `%` and `_` in a search are literal. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

export interface UserFilter {
  q?: string;
  groupId?: string;
  status?: "active" | "disabled";
}

export async function listUsers(
  db: Database,
  accountId: string,
  filter: UserFilter,
  limit: number,
  after?: string,
) {
  const conditions: (SQL | undefined)[] = [eq(users.accountId, accountId)];
  if (after) conditions.push(gt(users.id, after));
  if (filter.status) conditions.push(eq(users.status, filter.status));
  if (filter.groupId) {
    conditions.push(
      sql`EXISTS (SELECT 1 FROM ${groupMemberships} m WHERE m.user_id = ${users.id} AND m.group_id = ${filter.groupId})`,
    );
  }
  if (filter.q) {
    // SQLite folds case for ASCII only: lower-cased in JS, the pattern finds emails (stored
    // lower-cased) and any-case ASCII; as typed, it also finds names like "Émile" as written.
    const folded = `%${escapeLike(filter.q.toLowerCase())}%`;
    const typed = `%${escapeLike(filter.q)}%`;
    const match = (col: SQL | AnySQLiteColumn) =>
      sql`(lower(${col}) LIKE ${folded} ESCAPE '\\' OR ${col} LIKE ${typed} ESCAPE '\\')`;
    conditions.push(
      or(
        match(users.email),
        match(users.firstName),
        match(users.lastName),
        match(sql`${users.firstName} || ' ' || ${users.lastName}`),
      ),
    );
  }
  const rows = await withGroups(db)
    .where(and(...conditions))
    .orderBy(asc(users.id))
    .limit(limit + 1);
  return rows.map(parse);
}

export async function findUser(db: Database, accountId: string, id: string) {
  const rows = await withGroups(db).where(and(eq(users.accountId, accountId), eq(users.id, id)));
  return rows[0] ? parse(rows[0]) : null;
}

export function insertUser(db: Database, row: typeof users.$inferInsert) {
  return db.insert(users).values(row);
}

export function updateUser(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof users.$inferInsert>,
) {
  return db
    .update(users)
    .set(set)
    .where(and(eq(users.accountId, accountId), eq(users.id, id)));
}

export function deleteUser(db: Database, accountId: string, id: string) {
  return db.delete(users).where(and(eq(users.accountId, accountId), eq(users.id, id)));
}

const adminGroup = (accountId: string) =>
  sql`(SELECT ${groups.id} FROM ${groups} WHERE ${groups.accountId} = ${accountId} AND ${groups.builtin} = 'administrators')`;

/**
 * True unless the change would leave the account without an active administrator:
 * either `userId` is not one now, or another active one remains. Evaluated inside the
 * batch, so two admins demoting each other at once cannot both succeed.
 */
export function anotherAdministratorRemains(accountId: string, userId: string) {
  return sql`(NOT EXISTS (SELECT 1 FROM group_memberships m JOIN users u ON u.id = m.user_id
      WHERE m.group_id = ${adminGroup(accountId)} AND u.id = ${userId} AND u.status = 'active')
    OR EXISTS (SELECT 1 FROM group_memberships m JOIN users u ON u.id = m.user_id
      WHERE m.group_id = ${adminGroup(accountId)} AND u.id <> ${userId} AND u.status = 'active'))`;
}

/** True when the list includes the account's Administrators group. */
export function includesAdministrators(accountId: string, groupIds: string[]) {
  if (groupIds.length === 0) return sql`0`;
  return sql`${adminGroup(accountId)} IN (${sql.join(
    groupIds.map((id) => sql`${id}`),
    sql`, `,
  )})`;
}

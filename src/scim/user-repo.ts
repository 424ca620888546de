/**
 * Data access for users as SCIM shows them: with the SCIM groups they belong to (the
 * built-in groups and administrators' groups are out of SCIM's reach, so not shown), and
 * paged by offset, as SCIM's `startIndex` asks. Every function takes the account id first.
 */
import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { users } from "../db/schema";

export interface ScimUserFilter {
  email?: string;
  externalId?: string;
  /** A filter that can match nothing (two different userNames asked for at once). */
  none?: boolean;
}

// Spelled out with the table name: in a one-table select drizzle leaves column names
// unqualified, so they would bind to the subquery's own tables.
const scimGroupsOf = sql<string>`(SELECT json_group_array(json_object('id', id, 'name', name))
  FROM (SELECT g.id, g.name FROM group_memberships m JOIN groups g ON g.id = m.group_id
    WHERE m.account_id = ${users}.account_id AND m.user_id = ${users}.id AND g.created_via = 'scim'
    ORDER BY g.id))`;

export type ScimUserRow = {
  user: typeof users.$inferSelect;
  groups: { id: string; name: string }[];
};

const parse = (r: { user: typeof users.$inferSelect; groups: string }): ScimUserRow => ({
  user: r.user,
  groups: JSON.parse(r.groups) as { id: string; name: string }[],
});

function conditions(accountId: string, filter: ScimUserFilter): SQL | undefined {
  return and(
    eq(users.accountId, accountId),
    filter.none ? sql`0` : undefined,
    filter.email !== undefined ? eq(users.email, filter.email) : undefined,
    filter.externalId !== undefined ? eq(users.externalId, filter.externalId) : undefined,
  );
}

export async function listScimUsers(
  db: Database,
  accountId: string,
  filter: ScimUserFilter,
  offset: number,
  limit: number,
) {
  if (limit === 0) return [];
  const rows = await db
    .select({ user: users, groups: scimGroupsOf })
    .from(users)
    .where(conditions(accountId, filter))
    .orderBy(asc(users.id))
    .limit(limit)
    .offset(offset);
  return rows.map(parse);
}

export async function countScimUsers(db: Database, accountId: string, filter: ScimUserFilter) {
  const [row] = await db
    .select({ n: sql<number>`count(*)` })
    .from(users)
    .where(conditions(accountId, filter));
  return Number(row?.n ?? 0);
}

export async function findScimUser(db: Database, accountId: string, id: string) {
  const rows = await db
    .select({ user: users, groups: scimGroupsOf })
    .from(users)
    .where(and(eq(users.accountId, accountId), eq(users.id, id)));
  return rows[0] ? parse(rows[0]) : null;
}

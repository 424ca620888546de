/**
 * Data access for SCIM groups: only groups created over SCIM (`created_via = 'scim'`), so
 * an identity provider never reaches the built-in groups or those administrators made.
 * Every function takes the account id first.
 */
import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { groups } from "../db/schema";

export interface ScimGroupFilter {
  name?: string;
  externalId?: string;
  none?: boolean;
}

export type ScimGroupRow = {
  group: typeof groups.$inferSelect;
  members: { id: string; email: string }[] | null;
};

// Aliased: in a one-table select drizzle leaves column names unqualified.
const membersOf = sql<string>`(SELECT json_group_array(json_object('id', id, 'email', email))
  FROM (SELECT u.id, u.email FROM group_memberships m JOIN users u ON u.id = m.user_id
    WHERE m.group_id = ${groups}.id ORDER BY u.id))`;

function conditions(accountId: string, filter: ScimGroupFilter): SQL | undefined {
  return and(
    eq(groups.accountId, accountId),
    eq(groups.createdVia, "scim"),
    filter.none ? sql`0` : undefined,
    // Group names are unique regardless of case, and SCIM compares displayName so too.
    filter.name !== undefined ? sql`${groups.name} = ${filter.name} COLLATE NOCASE` : undefined,
    filter.externalId !== undefined ? eq(groups.externalId, filter.externalId) : undefined,
  );
}

const parse = (r: { group: typeof groups.$inferSelect; members: string | null }): ScimGroupRow => ({
  group: r.group,
  members: r.members === null ? null : (JSON.parse(r.members) as { id: string; email: string }[]),
});

export async function listScimGroups(
  db: Database,
  accountId: string,
  filter: ScimGroupFilter,
  offset: number,
  limit: number,
  withMembers: boolean,
) {
  if (limit === 0) return [];
  const rows = await db
    .select({ group: groups, members: withMembers ? membersOf : sql<null>`NULL` })
    .from(groups)
    .where(conditions(accountId, filter))
    .orderBy(asc(groups.id))
    .limit(limit)
    .offset(offset);
  return rows.map(parse);
}

export async function countScimGroups(db: Database, accountId: string, filter: ScimGroupFilter) {
  const [row] = await db
    .select({ n: sql<number>`count(*)` })
    .from(groups)
    .where(conditions(accountId, filter));
  return Number(row?.n ?? 0);
}

export async function findScimGroup(db: Database, accountId: string, id: string) {
  const rows = await db
    .select({ group: groups, members: membersOf })
    .from(groups)
    .where(and(conditions(accountId, {}), eq(groups.id, id)));
  return rows[0] ? parse(rows[0]) : null;
}

export function insertScimGroup(
  db: Database,
  row: { id: string; accountId: string; name: string; externalId: string | null; now: number },
) {
  return db.insert(groups).values({
    id: row.id,
    accountId: row.accountId,
    name: row.name,
    description: null,
    builtin: null,
    createdVia: "scim",
    externalId: row.externalId,
    createdAt: row.now,
    updatedAt: row.now,
  });
}

export function updateScimGroup(
  db: Database,
  accountId: string,
  id: string,
  set: { name?: string; externalId?: string | null; updatedAt: number },
) {
  return db
    .update(groups)
    .set(set)
    .where(and(conditions(accountId, {}), eq(groups.id, id)));
}

export function deleteScimGroup(db: Database, accountId: string, id: string) {
  return db.delete(groups).where(and(conditions(accountId, {}), eq(groups.id, id)));
}

/** True while the group exists and is SCIM's (for a batch guard: it may go meanwhile). */
export function scimGroupExists(accountId: string, id: string) {
  return sql`EXISTS (SELECT 1 FROM groups
    WHERE account_id = ${accountId} AND id = ${id} AND created_via = 'scim')`;
}

/** True when every id names a user of the account. */
export function allUsersExist(accountId: string, ids: string[]) {
  if (ids.length === 0) return sql`1`;
  return sql`(SELECT count(*) FROM users WHERE account_id = ${accountId}
    AND id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))) = ${ids.length}`;
}

/**
 * True when the user's membership is `member` (for conditional membership events); a
 * user not in the account is never a member-to-be.
 */
export function isMember(accountId: string, groupId: string, userId: string, member: boolean) {
  const exists = sql`EXISTS (SELECT 1 FROM group_memberships
    WHERE account_id = ${accountId} AND group_id = ${groupId} AND user_id = ${userId})`;
  return member
    ? exists
    : sql`NOT ${exists} AND EXISTS (SELECT 1 FROM users WHERE account_id = ${accountId} AND id = ${userId})`;
}

/** The account's users among `userIds` join the group; those already in it stay as they are. */
export function addMembers(accountId: string, groupId: string, userIds: string[], now: number) {
  return sql`INSERT OR IGNORE INTO group_memberships (account_id, group_id, user_id, created_at)
    SELECT ${accountId}, ${groupId}, u.id, ${now} FROM users u
    WHERE u.account_id = ${accountId} AND u.id IN (SELECT value FROM json_each(${JSON.stringify(userIds)}))`;
}

export function removeMembers(accountId: string, groupId: string, userIds: string[]) {
  return sql`DELETE FROM group_memberships WHERE account_id = ${accountId} AND group_id = ${groupId}
    AND user_id IN (SELECT value FROM json_each(${JSON.stringify(userIds)}))`;
}

/** Data access for groups, grants and memberships. Every function takes the account id first. */
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { BUILTIN_GROUPS } from "../authz/catalog";
import type { Database } from "../db/client";
import type { Bindable } from "../db/compiled";
import {
  deviceOrganizations,
  type GrantScope,
  grants,
  groupMemberships,
  groups,
} from "../db/schema";
import { newId } from "../lib/ids";

export type GroupRow = typeof groups.$inferSelect;
type GrantRow = { permission: string; scope: GrantScope | null };

// Spelled out with aliases: in a one-table select drizzle leaves column names unqualified,
// so `${groups.id}` would render as a bare "id" and bind to grants.id inside the subquery.
const memberCount = sql<number>`(SELECT count(*) FROM group_memberships m WHERE m.group_id = ${groups}.id)`;
const grantList = sql<string>`(SELECT json_group_array(json_object('permission', g.permission, 'scope', json(g.scope))) FROM grants g WHERE g.group_id = ${groups}.id)`;

function withDetails(db: Database) {
  return db.select({ group: groups, memberCount, grants: grantList }).from(groups);
}

export type GroupWithDetails = { group: GroupRow; memberCount: number; grants: GrantRow[] };

function parse(row: { group: GroupRow; memberCount: number; grants: string }): GroupWithDetails {
  return {
    group: row.group,
    memberCount: row.memberCount,
    grants: JSON.parse(row.grants) as GrantRow[],
  };
}

/** A page of the account's groups (`limit + 1` rows, by id, after the cursor's id): the query alone. */
export function listGroupsQuery(db: Database, accountId: string, limit: number, after?: string) {
  return withDetails(db)
    .where(and(eq(groups.accountId, accountId), after ? gt(groups.id, after) : undefined))
    .orderBy(asc(groups.id))
    .limit(limit + 1);
}

type DetailRow = { group: GroupRow; memberCount: number; grants: string };
export const groupsFromRows = (rows: DetailRow[]) => rows.map(parse);
export const groupFromRows = (rows: DetailRow[]) => (rows[0] ? parse(rows[0]) : null);

export function findGroupQuery(db: Database, accountId: string, id: string) {
  return withDetails(db).where(and(eq(groups.accountId, accountId), eq(groups.id, id)));
}

export async function findGroup(db: Database, accountId: string, id: string) {
  return groupFromRows(await findGroupQuery(db, accountId, id));
}

export async function findBuiltinGroupIds(db: Database, accountId: string) {
  const rows = await db
    .select({ id: groups.id, builtin: groups.builtin })
    .from(groups)
    .where(and(eq(groups.accountId, accountId), sql`${groups.builtin} IS NOT NULL`));
  return Object.fromEntries(rows.map((r) => [r.builtin, r.id])) as {
    administrators?: string;
    members?: string;
  };
}

export async function existingDeviceOrganizationIds(
  db: Database,
  accountId: string,
  ids: string[],
) {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ id: deviceOrganizations.id })
    .from(deviceOrganizations)
    .where(
      and(
        eq(deviceOrganizations.accountId, accountId),
        sql`${deviceOrganizations.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
      ),
    );
  return rows.map((r) => r.id);
}

/** SQL that is true when every id names a group of the account (for batch guards). */
export function allGroupsExist(accountId: string, ids: string[]) {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return sql`1`;
  return groupsExist(accountId, JSON.stringify(unique), unique.length);
}

/** As `allGroupsExist`, given the distinct ids as a JSON array and their count. */
export const groupsExist = (
  accountId: Bindable<string>,
  idsJson: Bindable<string>,
  count: Bindable<number>,
) => sql`(SELECT count(*) FROM groups WHERE account_id = ${accountId}
    AND id IN (SELECT value FROM json_each(${idsJson}))) = ${count}`;

export function insertGroup(db: Database, row: typeof groups.$inferInsert) {
  return db.insert(groups).values(row);
}

/** One JSON parameter however many grants: D1 allows 100 bound parameters per statement. */
export function insertGrants(accountId: string, groupId: string, list: GrantRow[]) {
  const rows = list.map((g) => ({ id: newId("grant"), permission: g.permission, scope: g.scope }));
  return sql`INSERT INTO grants (id, account_id, group_id, permission, scope)
    SELECT json_extract(value, '$.id'), ${accountId}, ${groupId}, json_extract(value, '$.permission'),
      json_extract(value, '$.scope')
    FROM json_each(${JSON.stringify(rows)})`;
}

export function deleteGrants(db: Database, accountId: string, groupId: string) {
  return db.delete(grants).where(and(eq(grants.accountId, accountId), eq(grants.groupId, groupId)));
}

export function updateGroup(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof groups.$inferInsert>,
) {
  return db
    .update(groups)
    .set(set)
    .where(and(eq(groups.accountId, accountId), eq(groups.id, id)));
}

export function deleteGroup(db: Database, accountId: string, id: string) {
  return db
    .delete(groups)
    .where(and(eq(groups.accountId, accountId), eq(groups.id, id), sql`${groups.builtin} IS NULL`));
}

/** Users who would be left in no group once `groupId` goes move to Members, so nobody is groupless. */
export function moveOrphansToMembers(
  accountId: string,
  groupId: string,
  membersId: string,
  now: number,
) {
  return sql`INSERT OR IGNORE INTO group_memberships (account_id, group_id, user_id, created_at)
    SELECT ${accountId}, ${membersId}, m.user_id, ${now} FROM group_memberships m
    WHERE m.account_id = ${accountId} AND m.group_id = ${groupId}
      AND NOT EXISTS (SELECT 1 FROM group_memberships o WHERE o.user_id = m.user_id AND o.group_id <> ${groupId})`;
}

export function insertMemberships(
  accountId: string,
  userId: string,
  groupIds: string[],
  now: number,
) {
  return sql`INSERT INTO group_memberships (account_id, group_id, user_id, created_at)
    SELECT ${accountId}, value, ${userId}, ${now}
    FROM json_each(${JSON.stringify([...new Set(groupIds)])})`;
}

/** A statement whose one row is the user's group ids as JSON; put it last in a batch. */
export function selectGroupIdsOf(accountId: string, userId: string) {
  return sql`SELECT (SELECT json_group_array(group_id) FROM (SELECT group_id FROM group_memberships
    WHERE account_id = ${accountId} AND user_id = ${userId} ORDER BY group_id)) AS ids`;
}

export function groupIdsFromResult(result: { rows: unknown[] }): string[] {
  const row = result.rows[0] as { ids: string } | undefined;
  return row ? (JSON.parse(row.ids) as string[]) : [];
}

export function deleteMemberships(db: Database, accountId: string, userId: string) {
  return db
    .delete(groupMemberships)
    .where(and(eq(groupMemberships.accountId, accountId), eq(groupMemberships.userId, userId)));
}

/** The rows for the two built-in groups every account is created with. */
export function builtinGroupInserts(db: Database, accountId: string, now: number) {
  const ids = { administrators: newId("group"), members: newId("group") };
  const queries = (["administrators", "members"] as const).flatMap((key) => {
    const def = BUILTIN_GROUPS[key];
    return [
      insertGroup(db, {
        id: ids[key],
        accountId,
        name: def.name,
        description: def.description,
        builtin: key,
        createdAt: now,
        updatedAt: now,
      }),
      insertGrants(
        accountId,
        ids[key],
        def.permissions.map((permission) => ({ permission, scope: null })),
      ),
    ];
  });
  return { ids, queries };
}

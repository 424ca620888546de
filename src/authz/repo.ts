/**
 * Data access for authorization: another user's grants, and delegation's rules as SQL
 * conditions over stored grants, for the guards of the writes that need them.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { grants, groupMemberships, users } from "../db/schema";
import type { EffectiveGrant } from "./authorize";
import type { Authority } from "./delegation";

/** Another user's status and effective grants, in one query. */
export async function loadUserGrants(db: Database, accountId: string, userId: string) {
  const rows = await db
    .select({
      status: users.status,
      groupId: grants.groupId,
      permission: grants.permission,
      scope: grants.scope,
    })
    .from(users)
    .leftJoin(groupMemberships, eq(groupMemberships.userId, users.id))
    .leftJoin(grants, eq(grants.groupId, groupMemberships.groupId))
    .where(and(eq(users.accountId, accountId), eq(users.id, userId)));
  if (rows.length === 0) return null;
  const effective: EffectiveGrant[] = rows
    .filter((r) => r.permission !== null && r.groupId !== null)
    .map((r) => ({ groupId: r.groupId!, permission: r.permission!, scope: r.scope ?? null }));
  return { status: rows[0]!.status, grants: effective };
}

/**
 * The grant row `gr` lies within the authority. The authority travels as two JSON
 * parameters, whatever its size: D1 allows only 100 bound parameters per statement.
 */
function grantRowWithin(authority: Authority): SQL {
  const unscoped = JSON.stringify([...authority.unscoped]);
  const scoped = JSON.stringify(
    Object.fromEntries(
      [...authority.scoped].map(([permission, held]) => [
        permission,
        Object.fromEntries(Object.entries(held).map(([key, ids]) => [key, [...ids]])),
      ]),
    ),
  );
  const held = sql`'$."' || gr.permission || '".' || k.key`;
  return sql`(gr.permission IN (SELECT value FROM json_each(${unscoped}))
    OR (gr.scope IS NOT NULL AND json_type(${scoped}, '$."' || gr.permission || '"') IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM json_each(gr.scope) k, json_each(k.value) v
        WHERE v.value NOT IN (SELECT value FROM json_each(${scoped}, ${held})))))`;
}

const notBaseline = sql`NOT EXISTS (SELECT 1 FROM groups bg
  WHERE bg.id = gr.group_id AND bg.builtin = 'members')`;

/** True when every grant of these groups (ids, or a subquery naming them) lies within the authority. */
export function groupsWithin(
  accountId: string,
  authority: Authority,
  groupIds: string[] | SQL,
): SQL {
  if (authority.everything || (Array.isArray(groupIds) && groupIds.length === 0)) return sql`1`;
  const ids = Array.isArray(groupIds)
    ? sql`SELECT value FROM json_each(${JSON.stringify(groupIds)})`
    : groupIds;
  return sql`NOT EXISTS (SELECT 1 FROM grants gr WHERE gr.account_id = ${accountId}
    AND gr.group_id IN (${ids}) AND ${notBaseline} AND NOT ${grantRowWithin(authority)})`;
}

/** True when everything the user holds lies within the authority: acting on them is no escalation. */
export function userWithin(accountId: string, authority: Authority, userId: string): SQL {
  if (authority.everything) return sql`1`;
  return sql`NOT EXISTS (SELECT 1 FROM group_memberships m JOIN grants gr ON gr.group_id = m.group_id
    WHERE m.account_id = ${accountId} AND m.user_id = ${userId} AND ${notBaseline}
      AND NOT ${grantRowWithin(authority)})`;
}

/**
 * No one hands out more than they hold. A principal may create grants, put users into
 * groups, or act on another user only within its own authority: every permission it
 * holds unscoped, and scoped permissions only within the listed resources. So a user with
 * `users:write` cannot join Administrators, and cannot disable an administrator.
 * The built-in Members group is the baseline every user gets, so its grants do not count.
 */
import { type SQL, sql } from "drizzle-orm";
import type { GrantScope } from "../db/schema";
import { AppError } from "../lib/errors";
import type { EffectiveGrant } from "./authorize";
import { PERMISSIONS } from "./catalog";

type ScopeKey = keyof GrantScope;

export interface Authority {
  everything: boolean;
  unscoped: Set<string>;
  scoped: Map<string, Partial<Record<ScopeKey, Set<string>>>>;
}

export function authorityOf(grants: EffectiveGrant[]): Authority {
  const unscoped = new Set<string>();
  const scoped = new Map<string, Partial<Record<ScopeKey, Set<string>>>>();
  for (const g of grants) {
    if (!g.scope) {
      unscoped.add(g.permission);
      continue;
    }
    const entry = scoped.get(g.permission) ?? {};
    for (const key of ["device_organization_ids", "content_types"] as const) {
      const ids = g.scope[key];
      if (!ids) continue;
      const held = entry[key] ?? new Set<string>();
      for (const id of ids) held.add(id);
      entry[key] = held;
    }
    scoped.set(g.permission, entry);
  }
  for (const p of unscoped) scoped.delete(p);
  return { everything: PERMISSIONS.every((p) => unscoped.has(p)), unscoped, scoped };
}

export function grantWithin(
  authority: Authority,
  grant: { permission: string; scope: GrantScope | null },
): boolean {
  if (authority.unscoped.has(grant.permission)) return true;
  const held = authority.scoped.get(grant.permission);
  if (!held || !grant.scope) return false;
  return (["device_organization_ids", "content_types"] as const).every((key) =>
    (grant.scope![key] ?? []).every((id) => held[key]?.has(id)),
  );
}

export const notHeld = (detail: string) => new AppError("permission_not_held", detail);

/** For grants given as input (a group being created or changed). */
export function assertGrantsWithin(
  authority: Authority,
  grants: { permission: string; scope: GrantScope | null }[],
) {
  const beyond = grants.filter((g) => !grantWithin(authority, g)).map((g) => g.permission);
  if (beyond.length > 0)
    throw notHeld(`You cannot grant what you do not hold: ${[...new Set(beyond)].join(", ")}.`);
}

/** SQL: the grant row `gr` lies within the authority (for guards over stored grants). */
function grantRowWithin(authority: Authority): SQL {
  const unscoped = [...authority.unscoped];
  const parts: SQL[] = [
    unscoped.length
      ? sql`gr.permission IN (${sql.join(
          unscoped.map((p) => sql`${p}`),
          sql`, `,
        )})`
      : sql`0`,
  ];
  for (const [permission, held] of authority.scoped) {
    const inside = (["device_organization_ids", "content_types"] as const).map((key) => {
      const ids = [...(held[key] ?? [])];
      const list = ids.length
        ? sql.join(
            ids.map((id) => sql`${id}`),
            sql`, `,
          )
        : sql`NULL`;
      return sql`NOT EXISTS (SELECT 1 FROM json_each(gr.scope, ${`$.${key}`}) WHERE value NOT IN (${list}))`;
    });
    parts.push(
      sql`(gr.permission = ${permission} AND gr.scope IS NOT NULL AND ${sql.join(inside, sql` AND `)})`,
    );
  }
  return sql`(${sql.join(parts, sql` OR `)})`;
}

const notBaseline = sql`NOT EXISTS (SELECT 1 FROM groups bg WHERE bg.id = gr.group_id AND bg.builtin = 'members')`;

/** True when every grant of these groups (ids, or a subquery naming them) lies within the authority. */
export function groupsWithin(authority: Authority, groupIds: string[] | SQL): SQL {
  if (authority.everything || (Array.isArray(groupIds) && groupIds.length === 0)) return sql`1`;
  const ids = Array.isArray(groupIds)
    ? sql.join(
        groupIds.map((id) => sql`${id}`),
        sql`, `,
      )
    : groupIds;
  return sql`NOT EXISTS (SELECT 1 FROM grants gr WHERE gr.group_id IN (${ids}) AND ${notBaseline} AND NOT ${grantRowWithin(authority)})`;
}

/** True when everything the user holds lies within the authority: acting on them is no escalation. */
export function userWithin(authority: Authority, userId: string): SQL {
  if (authority.everything) return sql`1`;
  return sql`NOT EXISTS (SELECT 1 FROM group_memberships m JOIN grants gr ON gr.group_id = m.group_id
    WHERE m.user_id = ${userId} AND ${notBaseline} AND NOT ${grantRowWithin(authority)})`;
}

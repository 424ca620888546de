/**
 * No one hands out more than they hold. A principal may create grants, put users into
 * groups, or act on another user only within its own authority: every permission it
 * holds unscoped, and scoped permissions only within the listed resources. So a user with
 * `users:write` cannot join Administrators, and cannot disable an administrator.
 * The built-in Members group is the baseline every user gets, so its grants do not count.
 */
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

function grantWithin(
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

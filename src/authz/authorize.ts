/**
 * The one function that decides access. Effective rights are the union of the user's
 * groups' grants; a grant without a scope covers every resource, a scoped one only the
 * listed device organizations or content types.
 */
import type { GrantScope } from "../db/schema";
import type { Permission } from "./catalog";

export interface EffectiveGrant {
  groupId: string;
  permission: string;
  scope: GrantScope | null;
}

export interface Resource {
  device_organization_id?: string;
  content_type?: string;
}

export interface Decision {
  allowed: boolean;
  grantedBy: string[];
}

function covers(scope: GrantScope | null, resource: Resource | undefined): boolean {
  if (!scope) return true;
  if (!resource) return false;
  if (scope.device_organization_ids && resource.device_organization_id !== undefined) {
    return scope.device_organization_ids.includes(resource.device_organization_id);
  }
  if (scope.content_types && resource.content_type !== undefined) {
    return scope.content_types.includes(resource.content_type);
  }
  return false;
}

/**
 * Without a resource, a scoped grant still allows the permission itself (a route can run,
 * and narrows what it returns by `scopeOf`); with a resource the grant must cover it.
 */
export function authorize(
  grants: EffectiveGrant[],
  permission: Permission,
  resource?: Resource,
): Decision {
  const matching = grants.filter(
    (g) => g.permission === permission && (resource === undefined || covers(g.scope, resource)),
  );
  const grantedBy = [...new Set(matching.map((g) => g.groupId))];
  return { allowed: matching.length > 0, grantedBy };
}

/** `null` = unrestricted; otherwise the ids the principal may touch for this permission. */
export function scopeOf(
  grants: EffectiveGrant[],
  permission: Permission,
  key: keyof GrantScope,
): string[] | null {
  const ids = new Set<string>();
  for (const g of grants) {
    if (g.permission !== permission) continue;
    const listed = g.scope?.[key];
    if (!listed) return null;
    for (const id of listed) ids.add(id);
  }
  return [...ids];
}

/** Permissions with their merged scopes, as `GET /v1/me` shows them. */
export function effectivePermissions(
  grants: EffectiveGrant[],
): { permission: string; scope: GrantScope | null }[] {
  const byPermission = new Map<string, GrantScope | null>();
  for (const g of grants) {
    const prev = byPermission.get(g.permission);
    if (prev === null) continue;
    if (!g.scope) {
      byPermission.set(g.permission, null);
      continue;
    }
    const merged: GrantScope = { ...(prev ?? {}) };
    for (const key of ["device_organization_ids", "content_types"] as const) {
      const v = g.scope[key];
      if (v) merged[key] = [...new Set([...(merged[key] ?? []), ...v])];
    }
    byPermission.set(g.permission, merged);
  }
  // Permission names are ASCII from the catalog: code-unit order is their alphabetical order,
  // without a locale-aware comparison per pair on every request.
  return [...byPermission.keys()]
    .sort()
    .map((permission) => ({ permission, scope: byPermission.get(permission)! }));
}

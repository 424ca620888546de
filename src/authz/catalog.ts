/** Permissions are data: the fixed catalog, which scopes each accepts, and the built-in groups. */
export const PERMISSIONS = [
  "users:read",
  "users:invite",
  "users:write",
  "users:reset_password",
  "groups:read",
  "groups:write",
  "devices:read",
  "devices:write",
  "content:read",
  "content:write",
  "billing:read",
  "billing:write",
  "activity:read",
  "webhooks:manage",
  "sso:manage",
  "api_tokens:manage",
  "account:manage",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export type ScopeKey = "device_organization_ids" | "content_types";

/** The one scope key a permission accepts, if any. */
export function scopeKeyFor(permission: Permission): ScopeKey | null {
  if (permission.startsWith("devices:")) return "device_organization_ids";
  if (permission.startsWith("content:")) return "content_types";
  return null;
}

export const BUILTIN_GROUPS = {
  administrators: {
    name: "Administrators",
    description: "Every permission on the account.",
    permissions: PERMISSIONS,
  },
  members: {
    name: "Members",
    description: "Everyday access: see users, groups, devices and content.",
    permissions: ["users:read", "groups:read", "devices:read", "content:read"] as Permission[],
  },
} as const;

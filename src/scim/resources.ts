/** SCIM's shapes: resources with their `meta`, list responses and paging by `startIndex`. */
import type { ScimCtx } from "../context";
import { appLink } from "../http/links";
import { iso } from "../lib/clock";
import { AppError } from "../lib/errors";
import type { ScimGroupRow } from "./group-repo";
import { USER_SCHEMA } from "./user-model";
import type { ScimUserRow } from "./user-repo";

export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/** Pages hold at most this many resources (ServiceProviderConfig says so). */
export const MAX_RESULTS = 100;

export const scimBase = (ctx: ScimCtx) => appLink(ctx, "/scim/v2");

export function toScimUser(ctx: ScimCtx, { user, groups }: ScimUserRow) {
  const base = scimBase(ctx);
  const formatted = `${user.firstName} ${user.lastName}`.trim();
  return {
    schemas: [USER_SCHEMA],
    id: user.id,
    ...(user.externalId !== null ? { externalId: user.externalId } : {}),
    userName: user.email,
    name: { givenName: user.firstName, familyName: user.lastName, formatted },
    displayName: formatted || user.email,
    emails: [{ value: user.email, type: "work", primary: true }],
    active: user.status === "active",
    groups: groups.map((g) => ({
      value: g.id,
      display: g.name,
      $ref: `${base}/Groups/${g.id}`,
      type: "direct",
    })),
    meta: {
      resourceType: "User",
      created: iso(user.createdAt)!,
      lastModified: iso(user.updatedAt)!,
      location: `${base}/Users/${user.id}`,
    },
  };
}

export function toScimGroup(ctx: ScimCtx, { group, members }: ScimGroupRow) {
  const base = scimBase(ctx);
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.externalId !== null ? { externalId: group.externalId } : {}),
    displayName: group.name,
    ...(members
      ? {
          members: members.map((m) => ({
            value: m.id,
            display: m.email,
            $ref: `${base}/Users/${m.id}`,
            type: "User",
          })),
        }
      : {}),
    meta: {
      resourceType: "Group",
      created: iso(group.createdAt)!,
      lastModified: iso(group.updatedAt)!,
      location: `${base}/Groups/${group.id}`,
    },
  };
}

export interface Paging {
  startIndex: number;
  count: number;
}

const integer = (raw: string | undefined, what: string) => {
  if (raw === undefined || raw === "") return undefined;
  if (!/^-?\d{1,15}$/.test(raw.trim())) {
    throw new AppError("invalid_value", `${what} must be an integer.`);
  }
  return Number(raw.trim());
};

/** `startIndex` is 1-based (below 1 means 1); `count` is 0–100, 100 when absent (RFC 7644 §3.4.2.4). */
export function paging(query: { startIndex?: string; count?: string }): Paging {
  const start = integer(query.startIndex, "startIndex") ?? 1;
  const count = integer(query.count, "count") ?? MAX_RESULTS;
  return { startIndex: Math.max(1, start), count: Math.min(MAX_RESULTS, Math.max(0, count)) };
}

export function listResponse<T>(resources: T[], total: number, page: Paging) {
  return {
    schemas: [LIST_SCHEMA],
    totalResults: total,
    itemsPerPage: resources.length,
    startIndex: page.startIndex,
    Resources: resources,
  };
}

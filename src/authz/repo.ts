import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { grants, groupMemberships, users } from "../db/schema";
import type { EffectiveGrant } from "./authorize";

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

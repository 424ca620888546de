/**
 * Loads a principal (user, account, plan, session or token) and its effective grants in
 * one D1 round trip: a batch of two reads. Grants are read live on every request, so a
 * membership or grant change applies to the very next one.
 */
import { and, eq, sql, type SQL } from "drizzle-orm";
import type { EffectiveGrant } from "../authz/authorize";
import type { Database } from "../db/client";
import { accounts, apiTokens, grants, groupMemberships, plans, sessions, users } from "../db/schema";

function grantsOf(db: Database, userId: string | SQL) {
  return db
    .select({ groupId: groupMemberships.groupId, permission: grants.permission, scope: grants.scope })
    .from(groupMemberships)
    .leftJoin(grants, eq(grants.groupId, groupMemberships.groupId))
    .where(eq(groupMemberships.userId, userId));
}

function splitGrants(rows: { groupId: string; permission: string | null; scope: EffectiveGrant["scope"] }[]) {
  const groupIds = [...new Set(rows.map((r) => r.groupId))];
  const effective = rows
    .filter((r): r is EffectiveGrant => r.permission !== null)
    .map((r) => ({ groupId: r.groupId, permission: r.permission, scope: r.scope ?? null }));
  return { groupIds, grants: effective };
}

export async function loadSessionPrincipal(db: Database, sessionId: string, userId: string) {
  const [rows, grantRows] = await db.batch([
    db
      .select({ session: sessions, user: users, account: accounts, plan: plans })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .innerJoin(accounts, eq(accounts.id, users.accountId))
      .innerJoin(plans, eq(plans.id, accounts.planId))
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId))),
    grantsOf(db, userId),
  ]);
  const row = rows[0];
  return row ? { ...row, ...splitGrants(grantRows) } : null;
}

export async function loadTokenPrincipal(db: Database, tokenId: string) {
  const [rows, grantRows] = await db.batch([
    db
      .select({ token: apiTokens, user: users, account: accounts, plan: plans })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .innerJoin(accounts, eq(accounts.id, users.accountId))
      .innerJoin(plans, eq(plans.id, accounts.planId))
      .where(eq(apiTokens.id, tokenId)),
    grantsOf(db, sql`(SELECT ${apiTokens.userId} FROM ${apiTokens} WHERE ${apiTokens.id} = ${tokenId})`),
  ]);
  const row = rows[0];
  return row ? { ...row, ...splitGrants(grantRows) } : null;
}

/** Data access for SCIM tokens. Every function takes the account id first. */
import { and, asc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { accounts, plans, scimTokens } from "../db/schema";

export type ScimTokenRow = typeof scimTokens.$inferSelect;

export function listScimTokens(db: Database, accountId: string, limit: number, after?: string) {
  return db
    .select()
    .from(scimTokens)
    .where(
      and(
        eq(scimTokens.accountId, accountId),
        isNull(scimTokens.revokedAt),
        after ? gt(scimTokens.id, after) : undefined,
      ),
    )
    .orderBy(asc(scimTokens.id))
    .limit(limit + 1);
}

export async function findScimToken(db: Database, accountId: string, id: string) {
  const [row] = await db
    .select()
    .from(scimTokens)
    .where(
      and(eq(scimTokens.accountId, accountId), eq(scimTokens.id, id), isNull(scimTokens.revokedAt)),
    );
  return row ?? null;
}

export function insertScimToken(db: Database, row: typeof scimTokens.$inferInsert) {
  return db.insert(scimTokens).values(row);
}

export function revokeScimToken(db: Database, accountId: string, id: string, now: number) {
  return db
    .update(scimTokens)
    .set({ revokedAt: now })
    .where(
      and(eq(scimTokens.accountId, accountId), eq(scimTokens.id, id), isNull(scimTokens.revokedAt)),
    );
}

/** The account's Members group: one subquery, so authenticating stays one round trip. */
const membersGroupId = sql<string>`(SELECT g.id FROM groups g
  WHERE g.account_id = ${scimTokens.accountId} AND g.builtin = 'members')`;

/**
 * A SCIM token with its account and plan. Across accounts on purpose: the token's id is
 * all the identity provider presents, and its secret is checked against the row found here.
 */
export async function findScimTokenAcrossAccounts(db: Database, id: string) {
  const [row] = await db
    .select({ token: scimTokens, account: accounts, plan: plans, membersGroupId })
    .from(scimTokens)
    .innerJoin(accounts, eq(accounts.id, scimTokens.accountId))
    .innerJoin(plans, eq(plans.id, accounts.planId))
    .where(eq(scimTokens.id, id));
  return row ?? null;
}

/** Sets `last_used_at`, unless a concurrent request already set it later. */
export function touchScimToken(db: Database, accountId: string, id: string, now: number) {
  return db
    .update(scimTokens)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(scimTokens.accountId, accountId),
        eq(scimTokens.id, id),
        or(isNull(scimTokens.lastUsedAt), lt(scimTokens.lastUsedAt, now)),
      ),
    );
}

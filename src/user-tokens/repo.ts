/** Data access for single-use tokens mailed to a user. Every function takes the account id first. */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { accounts, type UserTokenKind, users, userTokens } from "../db/schema";

export type UserTokenRow = typeof userTokens.$inferSelect;

export function insertUserToken(db: Database, row: typeof userTokens.$inferInsert) {
  return db.insert(userTokens).values(row);
}

/** Ends the user's outstanding tokens of a kind (a newer one replaces them, or the password changed). */
export function supersedeTokens(
  db: Database,
  accountId: string,
  userId: string,
  kind: UserTokenKind,
  now: number,
) {
  return db
    .update(userTokens)
    .set({ supersededAt: now })
    .where(
      and(
        eq(userTokens.accountId, accountId),
        eq(userTokens.userId, userId),
        eq(userTokens.kind, kind),
        isNull(userTokens.usedAt),
        isNull(userTokens.supersededAt),
      ),
    );
}

/**
 * The token with its user and account name, by digest (narrowed to the id the KV index
 * knew, if it did). Across accounts on purpose: the link's token is all the visitor has.
 */
export async function findByTokenAcrossAccounts(
  db: Database,
  kind: UserTokenKind,
  tokenHash: string,
  id?: string,
) {
  const [found] = await db
    .select({ token: userTokens, user: users, accountName: accounts.name })
    .from(userTokens)
    .innerJoin(users, eq(users.id, userTokens.userId))
    .innerJoin(accounts, eq(accounts.id, users.accountId))
    .where(
      and(
        eq(userTokens.tokenHash, tokenHash),
        eq(userTokens.kind, kind),
        id ? eq(userTokens.id, id) : undefined,
      ),
    );
  return found ?? null;
}

/** True while the token is unused, not superseded and unexpired. */
export function usable(accountId: string, id: string, now: number) {
  return sql`EXISTS (SELECT 1 FROM user_tokens WHERE account_id = ${accountId} AND id = ${id}
    AND used_at IS NULL AND superseded_at IS NULL AND expires_at > ${now})`;
}

export function markUsed(accountId: string, id: string, now: number) {
  return sql`UPDATE user_tokens SET used_at = ${now}
    WHERE account_id = ${accountId} AND id = ${id} AND used_at IS NULL`;
}

/**
 * Deletes up to `chunk` dead tokens: used or superseded ones at once (they answer
 * `token_invalid` either way), expired ones once `expiredBefore` has passed, so a late
 * click still hears that its link expired. Across accounts on purpose: the cron's sweep.
 */
export function pruneUserTokensAcrossAccounts(expiredBefore: number, chunk: number) {
  return sql`DELETE FROM user_tokens WHERE id IN (SELECT id FROM user_tokens
    WHERE used_at IS NOT NULL OR superseded_at IS NOT NULL OR expires_at <= ${expiredBefore}
    LIMIT ${chunk})`;
}

/** Data access for API tokens. Every function takes the account id first. */
import { and, asc, eq, gt, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { apiTokens } from "../db/schema";

export type ApiTokenRow = typeof apiTokens.$inferSelect;

export function listApiTokens(db: Database, accountId: string, limit: number, after?: string) {
  return db
    .select()
    .from(apiTokens)
    .where(
      and(
        eq(apiTokens.accountId, accountId),
        isNull(apiTokens.revokedAt),
        after ? gt(apiTokens.id, after) : undefined,
      ),
    )
    .orderBy(asc(apiTokens.id))
    .limit(limit + 1);
}

export async function findApiToken(db: Database, accountId: string, id: string) {
  const rows = await db
    .select()
    .from(apiTokens)
    .where(
      and(eq(apiTokens.accountId, accountId), eq(apiTokens.id, id), isNull(apiTokens.revokedAt)),
    );
  return rows[0] ?? null;
}

export function insertApiToken(db: Database, row: typeof apiTokens.$inferInsert) {
  return db.insert(apiTokens).values(row);
}

export function revokeApiToken(db: Database, accountId: string, id: string, now: number) {
  return db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(
      and(eq(apiTokens.accountId, accountId), eq(apiTokens.id, id), isNull(apiTokens.revokedAt)),
    );
}

/** Revokes every active token of a user (their password was reset, or they were disabled). */
export function revokeUserApiTokens(db: Database, accountId: string, userId: string, now: number) {
  return db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(
      and(
        eq(apiTokens.accountId, accountId),
        eq(apiTokens.userId, userId),
        isNull(apiTokens.revokedAt),
      ),
    );
}

export function touchApiToken(db: Database, accountId: string, id: string, now: number) {
  return db
    .update(apiTokens)
    .set({ lastUsedAt: now })
    .where(and(eq(apiTokens.accountId, accountId), eq(apiTokens.id, id)));
}

/** True while the token's last use is older than `since` (or it was never used). */
export function unusedSince(accountId: string, id: string, since: number): SQL {
  const stale = or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, since));
  return sql`EXISTS (SELECT 1 FROM ${apiTokens}
    WHERE ${apiTokens.accountId} = ${accountId} AND ${apiTokens.id} = ${id} AND ${stale})`;
}

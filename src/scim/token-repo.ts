/** Data access for SCIM tokens. Every function takes the account id first. */
import { and, asc, eq, gt, isNull } from "drizzle-orm";
import type { Database } from "../db/client";
import { scimTokens } from "../db/schema";

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

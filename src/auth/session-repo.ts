/** Data access for logins: the user by email, sessions and refresh tokens. */
import { and, eq, getTableColumns, isNull, sql } from "drizzle-orm";
import { type BatchResult, rowOf } from "../db/batch";
import type { Database } from "../db/client";
import { refreshTokens, sessions, users } from "../db/schema";

/**
 * The user with this email and its group ids, as a statement for the login's batch.
 * Across accounts on purpose: an email is unique service-wide, and it is all a login
 * presents.
 */
export function selectLoginUserAcrossAccounts(db: Database, email: string) {
  const groupIds = sql<string>`(SELECT json_group_array(group_id) FROM (SELECT group_id
    FROM group_memberships WHERE user_id = ${users.id} ORDER BY group_id))`.as("group_ids");
  return db
    .select({ ...getTableColumns(users), groupIds })
    .from(users)
    .where(eq(users.email, email));
}

export function loginUserFromResult(result: BatchResult) {
  const row = result.rows[0];
  if (!row) return null;
  return { user: rowOf(users, row), groupIds: JSON.parse(String(row.group_ids)) as string[] };
}

export function insertSession(db: Database, row: typeof sessions.$inferInsert) {
  return db.insert(sessions).values(row);
}

export function insertRefreshToken(db: Database, row: typeof refreshTokens.$inferInsert) {
  return db.insert(refreshTokens).values(row);
}

/**
 * The refresh token with its session and user, found by the digest of its secret: across
 * accounts on purpose, since the secret is all the caller presents.
 */
export async function findRefreshTokenAcrossAccounts(db: Database, tokenHash: string) {
  const rows = await db
    .select({ token: refreshTokens, session: sessions, user: users })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(refreshTokens.tokenHash, tokenHash));
  return rows[0] ?? null;
}

export function markRefreshTokenUsed(
  db: Database,
  accountId: string,
  id: string,
  replacedBy: string,
) {
  return db
    .update(refreshTokens)
    .set({ replacedBy })
    .where(
      and(
        eq(refreshTokens.accountId, accountId),
        eq(refreshTokens.id, id),
        isNull(refreshTokens.replacedBy),
      ),
    );
}

/** True while the refresh token has not been exchanged (for the exchange's guard). */
export function refreshTokenUnused(accountId: string, id: string) {
  return sql`EXISTS (SELECT 1 FROM refresh_tokens
    WHERE account_id = ${accountId} AND id = ${id} AND replaced_by IS NULL)`;
}

/** The session was used (refreshed) now: the idle limit counts from here. */
export function recordSessionUse(db: Database, accountId: string, sessionId: string, now: number) {
  return db
    .update(sessions)
    .set({ lastUsedAt: now })
    .where(and(eq(sessions.accountId, accountId), eq(sessions.id, sessionId)));
}

export function revokeSession(db: Database, accountId: string, sessionId: string, now: number) {
  return db
    .update(sessions)
    .set({ revokedAt: now })
    .where(
      and(
        eq(sessions.accountId, accountId),
        eq(sessions.id, sessionId),
        isNull(sessions.revokedAt),
      ),
    );
}

/** Ends every session of a user, optionally but one (after a password change). */
export function revokeUserSessions(
  db: Database,
  accountId: string,
  userId: string,
  now: number,
  exceptSessionId?: string,
) {
  return db
    .update(sessions)
    .set({ revokedAt: now })
    .where(
      and(
        eq(sessions.accountId, accountId),
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId ? sql`${sessions.id} <> ${exceptSessionId}` : undefined,
      ),
    );
}

export function recordLogin(
  db: Database,
  accountId: string,
  userId: string,
  at: number,
  ip: string | null,
  method: string,
  passwordHash?: string,
) {
  return db
    .update(users)
    .set({
      lastLoginAt: at,
      lastLoginIp: ip,
      lastLoginMethod: method,
      ...(passwordHash ? { passwordHash } : {}),
    })
    .where(and(eq(users.accountId, accountId), eq(users.id, userId)));
}

/** Data access for managing a user's sessions: the live ones, ending them, the cron's sweep. */
import { and, asc, eq, gt, isNull, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { sessions, users } from "../db/schema";
import { SESSION_IDLE_MS } from "./lifetimes";

/** Not revoked, within its absolute limit and not idle too long. */
const live = (now: number) =>
  and(
    isNull(sessions.revokedAt),
    gt(sessions.expiresAt, now),
    gt(sessions.lastUsedAt, now - SESSION_IDLE_MS),
  );

/**
 * A page of the user's live sessions, oldest first, with whether `within` holds for the
 * caller (a delegation check). No row at all: no such user in the account; one row with
 * a null session: the user has none.
 */
export function listLiveSessions(
  db: Database,
  accountId: string,
  userId: string,
  now: number,
  within: SQL,
  limit: number,
  after?: string,
) {
  return db
    .select({
      within: sql<number>`${within}`,
      session: {
        id: sessions.id,
        createdAt: sessions.createdAt,
        lastUsedAt: sessions.lastUsedAt,
        ip: sessions.ip,
        userAgent: sessions.userAgent,
      },
    })
    .from(users)
    .leftJoin(
      sessions,
      and(
        eq(sessions.accountId, accountId),
        eq(sessions.userId, users.id),
        live(now),
        after ? gt(sessions.id, after) : undefined,
      ),
    )
    .where(and(eq(users.accountId, accountId), eq(users.id, userId)))
    .orderBy(asc(sessions.id))
    .limit(limit + 1);
}

/** True while the session is the user's and live (for the guard of ending it). */
export function sessionLiveFor(accountId: string, userId: string, sessionId: string, now: number) {
  return sql`EXISTS (SELECT 1 FROM sessions WHERE account_id = ${accountId}
    AND user_id = ${userId} AND id = ${sessionId} AND revoked_at IS NULL
    AND expires_at > ${now} AND last_used_at > ${now - SESSION_IDLE_MS})`;
}

/** True while the user has a live session other than `exceptSessionId` (for an event's condition). */
export function otherLiveSessions(
  accountId: string,
  userId: string,
  now: number,
  exceptSessionId?: string,
) {
  return sql`EXISTS (SELECT 1 FROM sessions WHERE account_id = ${accountId}
    AND user_id = ${userId} AND id <> ${exceptSessionId ?? ""} AND revoked_at IS NULL
    AND expires_at > ${now} AND last_used_at > ${now - SESSION_IDLE_MS})`;
}

export function revokeUserSession(
  db: Database,
  accountId: string,
  userId: string,
  sessionId: string,
  now: number,
) {
  return db
    .update(sessions)
    .set({ revokedAt: now })
    .where(
      and(
        eq(sessions.accountId, accountId),
        eq(sessions.userId, userId),
        eq(sessions.id, sessionId),
        isNull(sessions.revokedAt),
      ),
    );
}

/**
 * Up to `chunk` sessions that can never be used again: unrevoked ones past their absolute
 * or idle limit, and ones revoked before `revokedBefore` (a revocation is kept a while,
 * whatever the session's age).
 */
const deadSessions = (now: number, revokedBefore: number, chunk: number) =>
  sql`SELECT id FROM sessions
    WHERE (revoked_at IS NULL AND (expires_at <= ${now} OR last_used_at <= ${now - SESSION_IDLE_MS}))
      OR revoked_at <= ${revokedBefore}
    ORDER BY id LIMIT ${chunk}`;

/**
 * Deletes up to `chunk` dead sessions with their refresh tokens (two statements, tokens
 * first). Across accounts on purpose: the cron's sweep.
 */
export function pruneSessionsAcrossAccounts(now: number, revokedBefore: number, chunk: number) {
  return [
    sql`DELETE FROM refresh_tokens WHERE session_id IN (${deadSessions(now, revokedBefore, chunk)})`,
    sql`DELETE FROM sessions WHERE id IN (${deadSessions(now, revokedBefore, chunk)})`,
  ];
}

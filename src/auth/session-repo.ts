/** Data access for logins: throttle counters, sessions and refresh tokens. */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { accounts, loginThrottle, plans, refreshTokens, sessions, users } from "../db/schema";
import { THROTTLE_WINDOW_MS, type ThrottleKey } from "./throttle";

/**
 * One query, one round trip: the throttle counters, and the user (if any) with its
 * account, plan and groups. Starting from a one-row table keeps the counters even when
 * no user has the email. Across accounts on purpose: an email is unique service-wide, and
 * it is all a login presents.
 */
export async function loadLoginStateAcrossAccounts(
  db: Database,
  email: string,
  keys: ThrottleKey[],
) {
  const throttleJson = sql<string>`(SELECT json_group_array(json_object('key', key, 'failures', failures, 'windowStartedAt', window_started_at))
    FROM login_throttle WHERE ${inArray(
      loginThrottle.key,
      keys.map((k) => k.key),
    )})`;
  const groupIdsJson = sql<string>`(SELECT json_group_array(group_id) FROM group_memberships WHERE user_id = ${users.id})`;
  const [row] = await db
    .select({
      throttle: throttleJson,
      user: users,
      account: accounts,
      plan: plans,
      groupIds: groupIdsJson,
    })
    .from(sql`(SELECT 1) AS one`)
    .leftJoin(users, eq(users.email, email))
    .leftJoin(accounts, eq(accounts.id, users.accountId))
    .leftJoin(plans, eq(plans.id, accounts.planId));
  const throttle = JSON.parse(row!.throttle) as {
    key: string;
    failures: number;
    windowStartedAt: number;
  }[];
  const found =
    row?.user && row.account && row.plan
      ? { user: row.user, account: row.account, plan: row.plan }
      : null;
  return { throttle, found, groupIds: found ? (JSON.parse(row!.groupIds) as string[]) : [] };
}

export function countFailure(
  db: Database,
  key: string,
  now: number,
  windowMs = THROTTLE_WINDOW_MS,
) {
  const expired = now - windowMs;
  return db
    .insert(loginThrottle)
    .values({ key, failures: 1, windowStartedAt: now })
    .onConflictDoUpdate({
      target: loginThrottle.key,
      set: {
        failures: sql`CASE WHEN ${loginThrottle.windowStartedAt} <= ${expired} THEN 1 ELSE ${loginThrottle.failures} + 1 END`,
        windowStartedAt: sql`CASE WHEN ${loginThrottle.windowStartedAt} <= ${expired} THEN ${now} ELSE ${loginThrottle.windowStartedAt} END`,
      },
    });
}

export function clearThrottle(db: Database, key: string) {
  return db.delete(loginThrottle).where(eq(loginThrottle.key, key));
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

/** The counters under these keys (read back in the batch that counted them). */
export function readThrottle(db: Database, keys: string[]) {
  return db.select().from(loginThrottle).where(inArray(loginThrottle.key, keys));
}

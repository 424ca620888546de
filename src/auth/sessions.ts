/** A user's login sessions: listing and ending them, by the user or by an administrator. */
import { sql } from "drizzle-orm";
import { by, type EventInput } from "../activity/record";
import { authorityOf } from "../authz/delegation";
import { userWithin } from "../authz/repo";
import type { AuthedCtx } from "../context";
import { guard } from "../db/batch";
import { commit } from "../db/commit";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { getUser } from "../users/service";
import { revokeUserSessions } from "./session-repo";
import * as repo from "./sessions-repo";

/** The caller's own session id; an API token has none, and must not end its owner's. */
function loginSession(ctx: AuthedCtx): string {
  const { sessionId } = ctx.principal;
  if (ctx.principal.kind !== "session" || !sessionId)
    throw new AppError("forbidden", "Sessions are managed from a login session, not an API token.");
  return sessionId;
}

const revokedEvent = (
  ctx: AuthedCtx,
  userId: string,
  metadata: Record<string, unknown>,
  when?: EventInput["when"],
): EventInput => ({
  type: "user.sessions_revoked",
  ...by(ctx.principal),
  subject: { type: "user", id: userId },
  metadata,
  when,
});

async function sessionsPage(
  ctx: AuthedCtx,
  userId: string,
  within: ReturnType<typeof userWithin>,
  limit: number,
  cursor?: string,
) {
  const { db, now, principal } = ctx;
  const after = decodeCursor(cursor);
  const rows = await repo.listLiveSessions(
    db,
    principal.accountId,
    userId,
    now,
    within,
    limit,
    after,
  );
  if (rows.length === 0) throw new AppError("not_found", "No such user.");
  if (!rows[0]!.within)
    throw new AppError("permission_not_held", "The user holds permissions you do not.");
  const live = rows.flatMap((r) => (r.session ? [r.session] : []));
  return toPage(
    live,
    limit,
    (s) => ({
      id: s.id,
      created_at: iso(s.createdAt)!,
      last_used_at: iso(s.lastUsedAt)!,
      ip: s.ip,
      user_agent: s.userAgent,
      current: s.id === principal.sessionId,
    }),
    (s) => s.id,
  );
}

export function listMySessions(ctx: AuthedCtx, limit: number, cursor?: string) {
  loginSession(ctx);
  return sessionsPage(ctx, ctx.principal.userId, sql`1`, limit, cursor);
}

/** Ends one of the caller's sessions (the current one too); another's or an ended one is 404. */
export async function endMySession(ctx: AuthedCtx, sessionId: string) {
  loginSession(ctx);
  const { db, now, principal } = ctx;
  const { accountId, userId } = principal;
  await commit(
    ctx,
    [
      guard("not_found", repo.sessionLiveFor(accountId, userId, sessionId, now)),
      repo.revokeUserSession(db, accountId, userId, sessionId, now),
    ],
    [revokedEvent(ctx, userId, { session_id: sessionId })],
  );
}

/** Ends every session of the caller but the current one. */
export async function endMyOtherSessions(ctx: AuthedCtx) {
  const current = loginSession(ctx);
  const { db, now, principal } = ctx;
  const { accountId, userId } = principal;
  await commit(
    ctx,
    [revokeUserSessions(db, accountId, userId, now, current)],
    [
      revokedEvent(
        ctx,
        userId,
        { scope: "others" },
        repo.otherLiveSessions(accountId, userId, now, current),
      ),
    ],
  );
}

/** An administrator lists a user's live sessions: only of a user within their authority. */
export function listUserSessions(ctx: AuthedCtx, userId: string, limit: number, cursor?: string) {
  const { accountId, grants } = ctx.principal;
  return sessionsPage(
    ctx,
    userId,
    userWithin(accountId, authorityOf(grants), userId),
    limit,
    cursor,
  );
}

/** An administrator ends every session of a user within their authority. */
export async function endUserSessions(ctx: AuthedCtx, userId: string) {
  const { db, now, principal } = ctx;
  const { accountId } = principal;
  await getUser(ctx, userId);
  await commit(
    ctx,
    [
      guard("permission_not_held", userWithin(accountId, authorityOf(principal.grants), userId)),
      revokeUserSessions(db, accountId, userId, now),
    ],
    [revokedEvent(ctx, userId, { scope: "all" }, repo.otherLiveSessions(accountId, userId, now))],
  );
}

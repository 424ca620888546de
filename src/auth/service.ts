/** Login, refresh and logout. */
import type { EventInput } from "../activity/record";
import type { AuthMethod, Ctx, UserRow } from "../context";
import { guard, type Statement } from "../db/batch";
import { commit } from "../db/commit";
import { groupIdsFromResult, selectGroupIdsOf } from "../groups/repo";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { decoyHash, hashPassword, needsRehash, verifyPassword } from "../lib/password";
import {
  passwordLoginAllowed,
  ssoRequired,
  ssoRequirementFromResult,
  ssoRequirementStatement,
} from "../sso/policy";
import { toUserDto, type UserDto } from "../users/dto";
import { ACCESS_TOKEN_TTL_SECONDS, signAccessToken } from "./jwt";
import { SESSION_TTL_MS, sessionLive } from "./lifetimes";
import { attemptStatements, refuseWhenFull } from "./rate-limit";
import * as repo from "./session-repo";
import { THROTTLE_WINDOW_MS, throttleKeys } from "./throttle";
import { clearThrottle, readThrottle, uncountAttempt } from "./throttle-repo";

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
  user: UserDto;
  must_change_password: boolean;
}

/**
 * Starts a session for `user`: the session, refresh-token, last-login and event rows go
 * in one batch together with `extra` (the rows of whatever made the login possible, such
 * as an accepted invitation), so either all of it happens or none.
 */
export async function startSession(
  ctx: Ctx,
  user: UserRow,
  /** null: the batch itself creates the memberships, so read them back at its end. */
  groupIds: string[] | null,
  method: AuthMethod,
  extra: { before?: Statement[]; events?: EventInput[]; passwordHash?: string } = {},
): Promise<TokenPair> {
  const { db, now } = ctx;
  const sessionId = newId("session");
  const refresh = randomSecret();
  const loginEvent: EventInput = {
    type: method === "sso" ? "auth.sso.succeeded" : "auth.login.succeeded",
    accountId: user.accountId,
    actor: { type: "user", id: user.id },
    subject: { type: "user", id: user.id },
    method,
  };
  const statements = [
    ...(extra.before ?? []),
    repo.insertSession(db, {
      id: sessionId,
      accountId: user.accountId,
      userId: user.id,
      method,
      ip: ctx.meta.ip,
      userAgent: ctx.meta.userAgent,
      createdAt: now,
      expiresAt: now + SESSION_TTL_MS,
      lastUsedAt: now,
    }),
    repo.insertRefreshToken(db, {
      id: newId("refreshToken"),
      accountId: user.accountId,
      sessionId,
      tokenHash: await sha256Hex(refresh),
      createdAt: now,
      expiresAt: now + SESSION_TTL_MS,
    }),
    repo.recordLogin(db, user.accountId, user.id, now, ctx.meta.ip, method, extra.passwordHash),
    ...(groupIds === null ? [selectGroupIdsOf(user.accountId, user.id)] : []),
  ];
  const results = await commit(ctx, statements, [...(extra.events ?? []), loginEvent]);
  const loggedIn = { ...user, lastLoginAt: now, lastLoginIp: ctx.meta.ip, lastLoginMethod: method };
  return {
    access_token: await signAccessToken(
      ctx.config.jwtKeys,
      { sub: user.id, acct: user.accountId, sid: sessionId },
      now,
    ),
    refresh_token: refresh,
    token_type: "Bearer",
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
    user: toUserDto(loggedIn, groupIds ?? groupIdsFromResult(results.at(-1)!)),
    must_change_password: user.mustChangePassword,
  };
}

const THROTTLED = "Too many failed logins. Try again later.";

/**
 * The attempt is counted before the password is hashed, in the batch that reads the user,
 * so a burst of concurrent guesses gets no more through than the limit; a login that
 * turns out not to be a failed guess takes its count back.
 */
export async function login(
  ctx: Ctx,
  input: { email: string; password: string },
): Promise<TokenPair> {
  const { db, now, config } = ctx;
  const email = normalizeEmail(input.email);
  const keys = throttleKeys(email, ctx.meta.ip);
  const results = await commit(ctx, [
    ...attemptStatements(keys, now, THROTTLE_WINDOW_MS),
    repo.selectLoginUserAcrossAccounts(db, email),
    ssoRequirementStatement(ctx, email),
  ]);
  refuseWhenFull(results, keys, now, THROTTLE_WINDOW_MS, THROTTLED);
  const found = repo.loginUserFromResult(results[2]!);
  const requirement = ssoRequirementFromResult(results[3]!);

  // Unknown emails and SSO-only users cost the same hashing time as a wrong password.
  const stored = found?.user.passwordHash ?? (await decoyHash(config.passwords));
  const valid =
    (await verifyPassword(input.password, stored, config.passwords)) && !!found?.user.passwordHash;

  if (!passwordLoginAllowed(requirement, found, valid)) {
    // Counted as a failed login whatever the reason, and the same answer for everyone, so
    // the answer never tells who is an administrator or whether the password was right.
    if (found) await commit(ctx, [], [loginFailed(found.user, valid ? "sso_required" : undefined)]);
    else await commit(ctx, [readThrottle(keys)]);
    throw ssoRequired(ctx, email);
  }

  if (!valid || !found) {
    // An unknown email makes the same second round trip as a known one's failure event,
    // so the time says nothing about which emails exist.
    if (found) await commit(ctx, [], [loginFailed(found.user)]);
    else await commit(ctx, [readThrottle(keys)]);
    throw new AppError("invalid_credentials", "The email or password is incorrect.");
  }

  const { user, groupIds } = found;
  // The right password is no failed guess: the counters keep only failures.
  if (user.status !== "active") {
    await commit(ctx, [uncountAttempt(keys.map((k) => k.key))]);
    throw new AppError("user_disabled", "This user has been disabled.");
  }
  // A success also starts the pair over.
  const forgive = [clearThrottle(db, keys[0]!.key), uncountAttempt([keys[1]!.key, keys[2]!.key])];
  const rehash = needsRehash(stored, config.passwords)
    ? await hashPassword(input.password, config.passwords)
    : undefined;
  return startSession(ctx, user, groupIds, "password", { before: forgive, passwordHash: rehash });
}

const loginFailed = (user: UserRow, reason?: string): EventInput => ({
  type: "auth.login.failed",
  accountId: user.accountId,
  actor: { type: "anonymous", id: null },
  subject: { type: "user", id: user.id },
  method: "password",
  metadata: { reason: reason ?? (user.passwordHash ? "invalid_password" : "no_password") },
});

export async function refresh(
  ctx: Ctx,
  presented: string,
): Promise<Omit<TokenPair, "user" | "must_change_password">> {
  const { db, now } = ctx;
  const found = await repo.findRefreshTokenAcrossAccounts(db, await sha256Hex(presented));
  const invalid = () =>
    new AppError("invalid_refresh_token", "The refresh token is invalid, expired or already used.");
  if (!found) throw invalid();
  const { token, session, user } = found;
  const reuse = async () => {
    // A used token presented again means it leaked: end the whole session, and say so.
    await commit(
      ctx,
      [repo.revokeSession(db, token.accountId, session.id, now)],
      [
        {
          type: "auth.refresh_token_reused",
          accountId: token.accountId,
          actor: { type: "anonymous", id: null },
          subject: { type: "user", id: user.id },
          method: session.method as AuthMethod,
          metadata: { session_id: session.id },
        },
      ],
    );
    return invalid();
  };
  if (token.replacedBy !== null) throw await reuse();
  if (!sessionLive(session, now) || token.expiresAt <= now || user.status !== "active") {
    throw invalid();
  }
  const next = randomSecret();
  const nextId = newId("refreshToken");
  const event: EventInput = {
    type: "auth.token_refreshed",
    accountId: user.accountId,
    actor: { type: "user", id: user.id },
    subject: { type: "user", id: user.id },
    method: session.method as AuthMethod,
  };
  try {
    const statements = [
      guard("invalid_refresh_token", repo.refreshTokenUnused(token.accountId, token.id)),
      repo.markRefreshTokenUsed(db, token.accountId, token.id, nextId),
      repo.insertRefreshToken(db, {
        id: nextId,
        accountId: token.accountId,
        sessionId: session.id,
        tokenHash: await sha256Hex(next),
        createdAt: now,
        expiresAt: session.expiresAt,
      }),
      repo.recordSessionUse(db, token.accountId, session.id, now),
    ];
    await commit(ctx, statements, [event]);
  } catch (err) {
    // A concurrent refresh with the same token won the race: that is reuse too.
    if (err instanceof AppError && err.code === "invalid_refresh_token") throw await reuse();
    throw err;
  }
  return {
    access_token: await signAccessToken(
      ctx.config.jwtKeys,
      { sub: user.id, acct: user.accountId, sid: session.id },
      now,
    ),
    refresh_token: next,
    token_type: "Bearer",
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
  };
}

export async function logout(
  ctx: Ctx,
  principal: { accountId: string; userId: string; sessionId: string | null; method: AuthMethod },
) {
  if (!principal.sessionId)
    throw new AppError("forbidden", "Only a login session can log out; revoke API tokens instead.");
  await commit(
    ctx,
    [repo.revokeSession(ctx.db, principal.accountId, principal.sessionId, ctx.now)],
    [
      {
        type: "auth.logout",
        accountId: principal.accountId,
        actor: { type: "user", id: principal.userId },
        subject: { type: "user", id: principal.userId },
        method: principal.method,
      },
    ],
  );
}

/**
 * Single-use tokens mailed to a user: a new address's verification (24 hours) and a
 * password reset (one hour). A newer token of a kind supersedes the user's older ones.
 * Using one is a conditional update inside the change's batch, so a link works once.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Ctx } from "../context";
import { guard } from "../db/batch";
import { accounts, type UserTokenKind, users, userTokens } from "../db/schema";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";

export const TOKEN_TTL_MS: Record<UserTokenKind, number> = {
  email_verification: 24 * 60 * 60 * 1000,
  password_reset: 60 * 60 * 1000,
};

const kvKey = (hash: string) => `utk:${hash}`;

/** Ends the user's outstanding tokens of a kind (a newer one replaces them, or the password changed). */
export function supersedeTokens(ctx: Ctx, accountId: string, userId: string, kind: UserTokenKind) {
  return ctx.db
    .update(userTokens)
    .set({ supersededAt: ctx.now })
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

export async function issueToken(
  ctx: Ctx,
  input: { accountId: string; userId: string; kind: UserTokenKind; email?: string },
) {
  const token = randomSecret();
  const tokenHash = await sha256Hex(token);
  const row = {
    id: newId("userToken"),
    accountId: input.accountId,
    userId: input.userId,
    kind: input.kind,
    tokenHash,
    email: input.email ?? null,
    createdAt: ctx.now,
    expiresAt: ctx.now + TOKEN_TTL_MS[input.kind],
    usedAt: null,
    supersededAt: null,
  };
  const statements = [
    supersedeTokens(ctx, input.accountId, input.userId, input.kind),
    ctx.db.insert(userTokens).values(row),
  ];
  const index = () =>
    ctx.env.TOKENS.put(kvKey(tokenHash), JSON.stringify({ id: row.id }), {
      expirationTtl: Math.max(60, TOKEN_TTL_MS[input.kind] / 1000),
    });
  return { token, row, statements, index };
}

/** The token and its user, or 404 `token_invalid` / 410 `token_expired`. KV can lag: D1 decides. */
export async function resolveToken(ctx: Ctx, kind: UserTokenKind, token: string) {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token))
    throw new AppError("token_invalid", "This link is not valid.");
  const tokenHash = await sha256Hex(token);
  const indexed = await ctx.env.TOKENS.get<{ id: string }>(kvKey(tokenHash), "json");
  const [found] = await ctx.db
    .select({ token: userTokens, user: users, accountName: accounts.name })
    .from(userTokens)
    .innerJoin(users, eq(users.id, userTokens.userId))
    .innerJoin(accounts, eq(accounts.id, users.accountId))
    .where(
      and(
        eq(userTokens.tokenHash, tokenHash),
        eq(userTokens.kind, kind),
        indexed ? eq(userTokens.id, indexed.id) : undefined,
      ),
    );
  if (!found || found.token.usedAt !== null || found.token.supersededAt !== null) {
    throw new AppError(
      "token_invalid",
      "This link is not valid. It may have been used already or replaced by a newer one.",
    );
  }
  if (found.token.expiresAt <= ctx.now)
    throw new AppError("token_expired", "This link has expired. Ask for a new one.");
  return found;
}

/** The guard and the update that use a token exactly once, for the change's batch. */
export function useToken(ctx: Ctx, tokenId: string) {
  return [
    guard(
      "token_invalid",
      sql`EXISTS (SELECT 1 FROM user_tokens WHERE id = ${tokenId} AND used_at IS NULL AND superseded_at IS NULL AND expires_at > ${ctx.now})`,
    ),
    sql`UPDATE user_tokens SET used_at = ${ctx.now} WHERE id = ${tokenId} AND used_at IS NULL`,
  ];
}

export function forgetToken(ctx: Ctx, tokenHash: string) {
  ctx.waitUntil(ctx.env.TOKENS.delete(kvKey(tokenHash)));
}

/**
 * Single-use tokens mailed to a user: a new address's verification (24 hours), the
 * cancellation of that change mailed to the current address (as long as the verification
 * lives) and a password reset (one hour). A newer token of a kind supersedes the user's older ones.
 * Using one is a conditional update inside the change's batch, so a link works once.
 */
import type { Ctx } from "../context";
import { guard } from "../db/batch";
import type { UserTokenKind } from "../db/schema";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { forgetToken as forget, mintToken, readToken } from "../tokens/single-use";
import * as repo from "./repo";

const TOKEN_TTL_MS: Record<UserTokenKind, number> = {
  email_verification: 24 * 60 * 60 * 1000,
  email_change_cancel: 24 * 60 * 60 * 1000,
  password_reset: 60 * 60 * 1000,
};

const KIND = { prefix: "utk", idField: "id", invalid: "token_invalid" } as const;
const INVALID = "This link is not valid. It may have been used already or replaced by a newer one.";

export function supersedeTokens(ctx: Ctx, accountId: string, userId: string, kind: UserTokenKind) {
  return repo.supersedeTokens(ctx.db, accountId, userId, kind, ctx.now);
}

/** A new token: the statements that store it (superseding older ones), and its secret. */
export async function issueToken(
  ctx: Ctx,
  input: { accountId: string; userId: string; kind: UserTokenKind; email?: string },
) {
  const minted = await mintToken(KIND);
  const row = {
    id: newId("userToken"),
    accountId: input.accountId,
    userId: input.userId,
    kind: input.kind,
    tokenHash: minted.hash,
    email: input.email ?? null,
    createdAt: ctx.now,
    expiresAt: ctx.now + TOKEN_TTL_MS[input.kind],
    usedAt: null,
    supersededAt: null,
  };
  const statements = [
    supersedeTokens(ctx, input.accountId, input.userId, input.kind),
    repo.insertUserToken(ctx.db, row),
  ];
  return {
    token: minted.token,
    row,
    statements,
    /** After commit: index the digest for the token's lifetime. */
    index: () => minted.index(ctx, { id: row.id }, row.expiresAt),
  };
}

/** The token and its user, or 404 `token_invalid` / 410 `token_expired`. KV can lag: D1 decides. */
export async function resolveToken(ctx: Ctx, kind: UserTokenKind, token: string) {
  const { hash, indexedId } = await readToken(ctx, KIND, token, "This link is not valid.");
  const found = await repo.findByTokenAcrossAccounts(ctx.db, kind, hash, indexedId);
  if (!found || found.token.usedAt !== null || found.token.supersededAt !== null) {
    throw new AppError("token_invalid", INVALID);
  }
  if (found.token.expiresAt <= ctx.now) {
    throw new AppError("token_expired", "This link has expired. Ask for a new one.");
  }
  return found;
}

/** The guard and the update that use a token exactly once, for the change's batch. */
export function useToken(ctx: Ctx, token: repo.UserTokenRow) {
  return [
    guard("token_invalid", repo.usable(token.accountId, token.id, ctx.now)),
    repo.markUsed(token.accountId, token.id, ctx.now),
  ];
}

export function forgetToken(ctx: Ctx, tokenHash: string) {
  forget(ctx, KIND, tokenHash);
}

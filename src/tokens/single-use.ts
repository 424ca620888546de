/**
 * Single-use secrets mailed as links (invitations, email verification, password resets):
 * 256 random bits, of which only SHA-256 is stored. D1 is the truth, and using a token is a
 * conditional update in the change's own batch, so a link works exactly once. KV holds
 * digest → row id for the token's lifetime: a fast index that may lag, never the decider.
 */
import type { Ctx } from "../context";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { AppError, type ErrorCode } from "../lib/errors";

/** What a link's token looks like: 32 bytes, base64url. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

interface TokenKind {
  /** The KV key prefix of this kind's index. */
  prefix: string;
  /** The member of the indexed value that holds the row id. */
  idField: string;
  /** The error a malformed or unknown token answers. */
  invalid: ErrorCode;
}

export interface MintedToken {
  token: string;
  hash: string;
  /** After commit: index the digest for the token's lifetime (`value` names the row). */
  index(ctx: Ctx, value: Record<string, string>, expiresAt: number): Promise<void>;
}

export async function mintToken(kind: TokenKind): Promise<MintedToken> {
  const token = randomSecret();
  const hash = await sha256Hex(token);
  return {
    token,
    hash,
    index: (ctx, value, expiresAt) =>
      ctx.env.TOKENS.put(`${kind.prefix}:${hash}`, JSON.stringify(value), {
        expirationTtl: Math.max(60, Math.ceil((expiresAt - ctx.now) / 1000)),
      }),
  };
}

/** The presented token's digest, and the row id the index knows for it (if it does). */
export async function readToken(ctx: Ctx, kind: TokenKind, token: string, detail: string) {
  if (!TOKEN_SHAPE.test(token)) throw new AppError(kind.invalid, detail);
  const hash = await sha256Hex(token);
  const indexed = await ctx.env.TOKENS.get<Record<string, string>>(
    `${kind.prefix}:${hash}`,
    "json",
  );
  return { hash, indexedId: indexed?.[kind.idField] };
}

/** Drops a used or replaced token from the index, after the response. */
export function forgetToken(ctx: Ctx, kind: TokenKind, hash: string): void {
  ctx.waitUntil(ctx.env.TOKENS.delete(`${kind.prefix}:${hash}`));
}

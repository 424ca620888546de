/** API tokens: an integration acts as its creator, narrowed to the permissions it was given. */
import { by } from "../activity/record";
import { mintBearerToken } from "../auth/bearer";
import { authorize } from "../authz/authorize";
import type { Permission } from "../authz/catalog";
import type { AuthedCtx, Ctx } from "../context";
import { commit } from "../db/commit";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as repo from "./repo";

function toApiTokenDto(t: repo.ApiTokenRow) {
  return {
    id: t.id,
    name: t.name,
    permissions: t.permissions,
    user_id: t.userId,
    expires_at: iso(t.expiresAt),
    last_used_at: iso(t.lastUsedAt),
    created_at: iso(t.createdAt)!,
  };
}

export async function listApiTokens(ctx: AuthedCtx, limit: number, cursor?: string) {
  const rows = await repo.listApiTokens(
    ctx.db,
    ctx.principal.accountId,
    limit,
    decodeCursor(cursor),
  );
  return toPage(rows, limit, toApiTokenDto, (t) => t.id);
}

/** A leaked token must not work forever; a longer or absent expiry becomes this. */
const MAX_LIFETIME_MS = 365 * 24 * 60 * 60 * 1000;

export async function createApiToken(
  ctx: AuthedCtx,
  input: { name: string; permissions: Permission[]; expires_at?: string },
) {
  const { db, now, principal } = ctx;
  // Otherwise one leaked token could mint fresh ones and outlive its own revocation.
  if (principal.kind !== "session")
    throw new AppError("forbidden", "API tokens are created from a login session.");
  const notHeld = input.permissions.filter((p) => !authorize(principal.grants, p).allowed);
  if (notHeld.length > 0) {
    throw new AppError(
      "permission_not_held",
      `You cannot give a token permissions you do not hold: ${notHeld.join(", ")}.`,
      {
        errors: [{ path: "permissions", code: "permission_not_held", message: notHeld.join(", ") }],
      },
    );
  }
  const asked = input.expires_at ? Date.parse(input.expires_at) : null;
  if (asked !== null && asked <= now) {
    throw new AppError("validation_failed", "expires_at must be in the future.", {
      errors: [{ path: "expires_at", code: "too_small", message: "Must be in the future." }],
    });
  }
  const expiresAt = Math.min(asked ?? Number.POSITIVE_INFINITY, now + MAX_LIFETIME_MS);
  const id = newId("apiToken");
  const { token, secretHash } = await mintBearerToken(id);
  const row = {
    id,
    accountId: principal.accountId,
    userId: principal.userId,
    name: input.name,
    secretHash,
    permissions: [...new Set(input.permissions)],
    expiresAt,
    lastUsedAt: null,
    createdAt: now,
    revokedAt: null,
  };
  await commit(
    ctx,
    [repo.insertApiToken(db, row)],
    [
      {
        type: "api_token.created",
        ...by(principal),
        subject: { type: "api_token", id },
        metadata: { name: input.name, permissions: row.permissions, user_id: principal.userId },
      },
    ],
  );
  return { ...toApiTokenDto(row), token };
}

export async function revokeApiToken(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const found = await repo.findApiToken(db, principal.accountId, id);
  if (!found) throw new AppError("not_found", "No such API token.");
  await commit(
    ctx,
    [repo.revokeApiToken(db, principal.accountId, id, now)],
    [
      {
        type: "api_token.revoked",
        ...by(principal),
        subject: { type: "api_token", id },
        metadata: { name: found.name },
      },
    ],
  );
}

const EVENT_EVERY_MS = 60_000;

/**
 * Records a token's use after the response: `last_used_at` always, the activity event at
 * most once a minute (conditional on the row still being stale, so concurrent requests
 * write one event).
 */
export function recordTokenUse(ctx: Ctx, token: repo.ApiTokenRow): void {
  const { db, now } = ctx;
  const due = token.lastUsedAt === null || token.lastUsedAt <= now - EVENT_EVERY_MS;
  const since = now - EVENT_EVERY_MS + 1;
  const events = due
    ? [
        {
          type: "auth.api_token_used" as const,
          accountId: token.accountId,
          actor: { type: "api_token" as const, id: token.id },
          subject: { type: "api_token", id: token.id },
          method: "api_token" as const,
          metadata: { name: token.name, user_id: token.userId },
          when: repo.unusedSince(token.accountId, token.id, since),
        },
      ]
    : [];
  const touch = commit(ctx, [repo.touchApiToken(db, token.accountId, token.id, now)], events);
  ctx.waitUntil(
    touch.catch((err) =>
      console.warn(JSON.stringify({ msg: "api token touch failed", err: String(err) })),
    ),
  );
}

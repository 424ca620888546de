/** API tokens: an integration acts as its creator, narrowed to the permissions it was given. */
import { actorOf, buildEvent, insertEvent, publish } from "../activity/record";
import { mintApiToken } from "../auth/api-token-format";
import { authorize } from "../authz/authorize";
import type { Permission } from "../authz/catalog";
import type { AuthedCtx } from "../context";
import { runBatch } from "../db/batch";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as repo from "./repo";

export function toApiTokenDto(t: repo.ApiTokenRow) {
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

export async function createApiToken(
  ctx: AuthedCtx,
  input: { name: string; permissions: Permission[]; expires_at?: string },
) {
  const { db, now, principal } = ctx;
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
  const expiresAt = input.expires_at ? Date.parse(input.expires_at) : null;
  if (expiresAt !== null && expiresAt <= now) {
    throw new AppError("validation_failed", "expires_at must be in the future.", {
      errors: [{ path: "expires_at", code: "too_small", message: "Must be in the future." }],
    });
  }
  const id = newId("apiToken");
  const { token, secretHash } = await mintApiToken(id);
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
  const event = buildEvent(ctx, {
    type: "api_token.created",
    accountId: principal.accountId,
    actor: actorOf(principal),
    subject: { type: "api_token", id },
    method: principal.method,
    metadata: { name: input.name, permissions: row.permissions, user_id: principal.userId },
  });
  await runBatch(db, [repo.insertApiToken(db, row), insertEvent(db, event)]);
  publish(ctx, [event]);
  return { ...toApiTokenDto(row), token };
}

export async function revokeApiToken(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const found = await repo.findApiToken(db, principal.accountId, id);
  if (!found) throw new AppError("not_found", "No such API token.");
  const event = buildEvent(ctx, {
    type: "api_token.revoked",
    accountId: principal.accountId,
    actor: actorOf(principal),
    subject: { type: "api_token", id },
    method: principal.method,
    metadata: { name: found.name },
  });
  await runBatch(db, [
    repo.revokeApiToken(db, principal.accountId, id, now),
    insertEvent(db, event),
  ]);
  publish(ctx, [event]);
}

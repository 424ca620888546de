/**
 * SCIM tokens: the bearer credential an identity provider uses to provision the account's
 * users and groups. Shown once; only the secret's digest is stored; they act for the
 * account, not for any user.
 */
import { by } from "../activity/record";
import { mintBearerToken } from "../auth/bearer";
import type { AuthedCtx } from "../context";
import { commit } from "../db/commit";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as repo from "./token-repo";

function toScimTokenDto(t: repo.ScimTokenRow) {
  return {
    id: t.id,
    name: t.name,
    created_by: t.createdBy,
    created_at: iso(t.createdAt)!,
    last_used_at: iso(t.lastUsedAt),
  };
}

export async function listScimTokens(ctx: AuthedCtx, limit: number, cursor?: string) {
  const { accountId } = ctx.principal;
  const rows = await repo.listScimTokens(ctx.db, accountId, limit, decodeCursor(cursor));
  return toPage(rows, limit, toScimTokenDto, (t) => t.id);
}

export async function createScimToken(ctx: AuthedCtx, name: string) {
  const { db, now, principal } = ctx;
  // A provisioning credential is made by a person at a login session, not by a script.
  if (principal.kind !== "session") {
    throw new AppError("forbidden", "SCIM tokens are created from a login session.");
  }
  const id = newId("scimToken");
  const { token, secretHash } = await mintBearerToken(id);
  const row = {
    id,
    accountId: principal.accountId,
    name,
    secretHash,
    createdBy: principal.userId,
    createdAt: now,
    lastUsedAt: null,
    revokedAt: null,
  };
  await commit(
    ctx,
    [repo.insertScimToken(db, row)],
    [
      {
        type: "scim_token.created",
        ...by(principal),
        subject: { type: "scim_token", id },
        metadata: { name },
      },
    ],
  );
  return { ...toScimTokenDto(row), token };
}

export async function revokeScimToken(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const found = await repo.findScimToken(db, principal.accountId, id);
  if (!found) throw new AppError("not_found", "No such SCIM token.");
  await commit(
    ctx,
    [repo.revokeScimToken(db, principal.accountId, id, now)],
    [
      {
        type: "scim_token.revoked",
        ...by(principal),
        subject: { type: "scim_token", id },
        metadata: { name: found.name },
      },
    ],
  );
}

import { mintBearerToken } from "../auth/bearer";
import { listResellerUsageAcrossAccounts } from "../billing/repo";
import { type CapacityChange, changeCapacity, toLimitsDto } from "../billing/service";
import type { Ctx } from "../context";
import { commit } from "../db/commit";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as repo from "./repo";

/** Registers a reseller partner; the token is returned once and only its hash is kept. */
export async function createReseller(ctx: Ctx, name: string) {
  const id = newId("reseller");
  const { token, secretHash } = await mintBearerToken(id);
  const row = { id, name, tokenHash: secretHash, createdAt: ctx.now };
  await commit(ctx, [repo.insertReseller(ctx.db, row)]);
  return { id, name, token, created_at: iso(ctx.now)! };
}

/** The reseller's accounts, with their limits and use. */
export async function listAccounts(ctx: Ctx, resellerId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor);
  const rows = await listResellerUsageAcrossAccounts(ctx.db, resellerId, ctx.now, limit, after);
  return toPage(
    rows,
    limit,
    (u) => ({ id: u.account_id, name: u.name, limits: toLimitsDto(u) }),
    (u) => u.account_id,
  );
}

/** A capacity change on one of the reseller's accounts; any other account is simply not there. */
export async function changeAccount(
  ctx: Ctx,
  resellerId: string,
  accountId: string,
  change: CapacityChange,
) {
  if (!(await repo.managesAccount(ctx.db, resellerId, accountId))) {
    throw new AppError("not_found", "No such account.");
  }
  return changeCapacity(ctx, accountId, change, { actor: { type: "reseller", id: resellerId } });
}

/**
 * Cancelling a requested email change from the link mailed to the current address: the
 * pending address is cleared and its verification link dies. The link works once, and
 * only while the change it was mailed for is still the pending one.
 */
import type { Ctx } from "../context";
import { guard } from "../db/batch";
import { commit } from "../db/commit";
import { groupIdsFromResult, selectGroupIdsOf } from "../groups/repo";
import { AppError } from "../lib/errors";
import { forgetToken, resolveToken, supersedeTokens, useToken } from "../user-tokens/tokens";
import * as usersRepo from "../users/repo";

const INVALID = "This link is not valid. The change may have been made, cancelled or replaced.";

/** The token and its user, while the change it names is still pending. */
async function resolvePendingChange(ctx: Ctx, token: string) {
  const found = await resolveToken(ctx, "email_change_cancel", token);
  if (found.user.pendingEmail !== found.token.email) throw new AppError("token_invalid", INVALID);
  return found;
}

export async function describeCancellation(ctx: Ctx, token: string) {
  const { token: row, user } = await resolvePendingChange(ctx, token);
  return {
    email: user.email,
    pending_email: row.email!,
    expires_at: new Date(row.expiresAt).toISOString(),
  };
}

export async function cancelEmailChange(ctx: Ctx, token: string) {
  const { now } = ctx;
  const { token: row, user } = await resolvePendingChange(ctx, token);
  const { accountId, id } = user;
  const results = await commit(
    ctx,
    [
      ...useToken(ctx, row),
      guard("token_invalid", usersRepo.hasPendingEmail(accountId, id, row.email!)),
      usersRepo.clearPendingEmail(accountId, id, now),
      supersedeTokens(ctx, accountId, id, "email_verification"),
      selectGroupIdsOf(accountId, id),
    ],
    [
      {
        type: "user.email_change_cancelled",
        accountId,
        actor: { type: "user", id },
        subject: { type: "user", id },
        metadata: { email: row.email, reason: "cancelled_by_link" },
      },
    ],
  );
  forgetToken(ctx, row.tokenHash);
  const cancelled = { ...user, pendingEmail: null, updatedAt: now };
  return { user: cancelled, groupIds: groupIdsFromResult(results.at(-1)!) };
}

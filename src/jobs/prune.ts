/** The cron's sweeps of what has expired: each in bounded passes of bounded chunks. */
import { pruneSessionsAcrossAccounts } from "../auth/sessions-repo";
import { LONGEST_WINDOW_MS } from "../auth/throttle";
import { pruneThrottleAcrossAccounts } from "../auth/throttle-repo";
import type { Ctx } from "../context";
import type { Statement } from "../db/batch";
import { commit } from "../db/commit";
import { pruneUnclaimedPairingsAcrossAccounts } from "../devices/repo";
import { pruneLoginCodesAcrossAccounts } from "../sso/repo";
import { pruneUserTokensAcrossAccounts } from "../user-tokens/repo";

const DAY = 24 * 60 * 60 * 1000;
/** Revoked sessions stay this long, for a support question about a recent sign-out. */
const REVOKED_SESSIONS_KEPT_MS = 30 * DAY;
/** Expired links stay this long, so a late click hears "expired" rather than "invalid". */
const EXPIRED_TOKENS_KEPT_MS = 7 * DAY;

/** Runs one sweep until a pass removes less than a chunk; its last statement's count decides. */
async function sweep(ctx: Ctx, statements: (chunk: number) => Statement[], chunk = 500) {
  let removed = 0;
  for (let pass = 0; pass < 10; pass++) {
    const results = await commit(ctx, statements(chunk));
    const changes = results.at(-1)?.changes ?? 0;
    removed += changes;
    if (changes < chunk) break;
  }
  return removed;
}

export async function pruneExpired(ctx: Ctx) {
  const { now } = ctx;
  await sweep(ctx, (chunk) => [pruneUnclaimedPairingsAcrossAccounts(now, chunk)]);
  await sweep(ctx, (chunk) => [pruneThrottleAcrossAccounts(now, LONGEST_WINDOW_MS, chunk)]);
  await sweep(ctx, (chunk) =>
    pruneSessionsAcrossAccounts(now, now - REVOKED_SESSIONS_KEPT_MS, chunk),
  );
  await sweep(ctx, (chunk) => [pruneUserTokensAcrossAccounts(now - EXPIRED_TOKENS_KEPT_MS, chunk)]);
  await sweep(ctx, (chunk) => [pruneLoginCodesAcrossAccounts(now, chunk)]);
}

/** One way to throttle an endpoint: count the attempt, and refuse it when a counter is full. */
import type { Ctx } from "../context";
import type { BatchResult } from "../db/batch";
import { commit } from "../db/commit";
import { AppError } from "../lib/errors";
import { retryAfterSeconds, type ThrottleKey } from "./throttle";
import { countAttempt, countersFromResult, readThrottle } from "./throttle-repo";

/** Counts the attempt and reads the counters back; put them first in a batch. */
export function attemptStatements(keys: ThrottleKey[], now: number, windowMs: number) {
  return [countAttempt(keys, now, windowMs), readThrottle(keys)];
}

/** 429 with Retry-After when the batch's first two results (from `attemptStatements`) refused. */
export function refuseWhenFull(
  results: BatchResult[],
  keys: ThrottleKey[],
  now: number,
  windowMs: number,
  detail: string,
) {
  if (results[0]!.changes > 0) return;
  const wait = retryAfterSeconds(keys, countersFromResult(results[1]!), now, windowMs);
  throw new AppError("too_many_attempts", detail, { retryAfter: Math.max(1, wait) });
}

/** Counts an attempt under every key in one round trip; 429 when a counter is already full. */
export async function throttle(ctx: Ctx, keys: ThrottleKey[], windowMs: number, detail: string) {
  const results = await commit(ctx, attemptStatements(keys, ctx.now, windowMs));
  refuseWhenFull(results, keys, ctx.now, windowMs, detail);
}

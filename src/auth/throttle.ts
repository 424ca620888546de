/**
 * Failed-login throttling: fixed 15-minute windows per
 * (email, IP) pair, per email and per IP, counted in D1 so every isolate sees the same
 * numbers. The pair limit is low, the others high, so a stranger elsewhere cannot quickly
 * lock a user out of their own network, and no guessing goes on unbounded.
 */
export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;

const LIMITS = { pair: 10, email: 100, ip: 100 } as const;

export interface ThrottleKey {
  key: string;
  limit: number;
}

export function throttleKeys(email: string, ip: string | null): ThrottleKey[] {
  const source = ip ?? "unknown";
  return [
    { key: `pair:${email}|${source}`, limit: LIMITS.pair },
    { key: `email:${email}`, limit: LIMITS.email },
    { key: `ip:${source}`, limit: LIMITS.ip },
  ];
}

/** Seconds until every exhausted window has passed, or 0 when the attempt may go ahead. */
export function retryAfterSeconds(
  keys: ThrottleKey[],
  rows: { key: string; failures: number; windowStartedAt: number }[],
  now: number,
): number {
  let until = 0;
  for (const { key, limit } of keys) {
    const row = rows.find((r) => r.key === key);
    const windowEnd = row ? row.windowStartedAt + THROTTLE_WINDOW_MS : 0;
    if (row && row.failures >= limit && windowEnd > now) until = Math.max(until, windowEnd);
  }
  return until === 0 ? 0 : Math.ceil((until - now) / 1000);
}

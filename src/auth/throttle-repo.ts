/**
 * Data access for throttle counters. A key names what it counts (an email, a client, a
 * pair of both) and belongs to no account: attempts come before anyone is known.
 */
import { eq, sql } from "drizzle-orm";
import type { BatchResult } from "../db/batch";
import type { Database } from "../db/client";
import { loginThrottle } from "../db/schema";
import type { ThrottleCounter, ThrottleKey } from "./throttle";

/**
 * Counts one attempt under every key, in fixed windows of `windowMs` — unless a counter is
 * already full, in which case it counts nothing (changes = 0). Counting and checking are
 * one statement, so concurrent attempts cannot all pass a check made before any of them
 * counted; and a refused attempt does not count, so hammering one full pair cannot fill
 * the email's or the client's counter for everyone else.
 */
export function countAttempt(keys: ThrottleKey[], now: number, windowMs: number) {
  const json = JSON.stringify(keys);
  const expired = now - windowMs;
  return sql`INSERT INTO login_throttle (key, failures, window_started_at)
    SELECT json_extract(k.value, '$.key'), 1, ${now} FROM json_each(${json}) k
    WHERE NOT EXISTS (SELECT 1 FROM login_throttle t, json_each(${json}) j
      WHERE t.key = json_extract(j.value, '$.key')
        AND t.failures >= json_extract(j.value, '$.limit')
        AND t.window_started_at > ${expired})
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN window_started_at <= ${expired} THEN 1 ELSE failures + 1 END,
      window_started_at = CASE WHEN window_started_at <= ${expired} THEN ${now} ELSE window_started_at END`;
}

/** The counters under these keys (read back in the batch that counted them). */
export function readThrottle(keys: ThrottleKey[]) {
  return sql`SELECT key, failures, window_started_at FROM login_throttle
    WHERE key IN (SELECT json_extract(value, '$.key') FROM json_each(${JSON.stringify(keys)}))`;
}

export function countersFromResult(result: BatchResult): ThrottleCounter[] {
  return result.rows.map((r) => ({
    key: String(r.key),
    failures: Number(r.failures),
    windowStartedAt: Number(r.window_started_at),
  }));
}

export function clearThrottle(db: Database, key: string) {
  return db.delete(loginThrottle).where(eq(loginThrottle.key, key));
}

/** Takes one counted attempt back off these counters: it turned out not to be a failure. */
export function uncountAttempt(keys: string[]) {
  return sql`UPDATE login_throttle SET failures = failures - 1
    WHERE key IN (SELECT value FROM json_each(${JSON.stringify(keys)})) AND failures > 0`;
}

/**
 * Deletes up to `chunk` counters whose window has passed (every window is at most
 * `longestWindowMs`): across accounts on purpose, since counters belong to no account.
 */
export function pruneThrottleAcrossAccounts(now: number, longestWindowMs: number, chunk: number) {
  return sql`DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle
    WHERE window_started_at <= ${now - longestWindowMs} LIMIT ${chunk})`;
}

/**
 * Throttling: fixed windows counted in D1, so every isolate sees the same numbers.
 *
 * Failed logins are counted per (email, client) pair, per email and per client, in
 * 15-minute windows. The pair limit is low, the others high, so a stranger elsewhere cannot
 * quickly lock a user out of their own network, and no guessing goes on unbounded.
 */
export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;
/** The longest window any throttle uses; a counter older than this counts for nothing. */
export const LONGEST_WINDOW_MS = 60 * 60 * 1000;

const LIMITS = { pair: 10, email: 100, ip: 100 } as const;

export interface ThrottleKey {
  key: string;
  limit: number;
}

export interface ThrottleCounter {
  key: string;
  failures: number;
  windowStartedAt: number;
}

/** Expands an IPv6 text to its eight hextets (lower-case, no leading zeros), or null. */
function hextets(text: string): string[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const last = tail.at(-1) ?? head.at(-1) ?? "";
  // An IPv4 tail (::ffff:192.0.2.1) stands for two hextets.
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(last) ? last : null;
  if (v4) (tail.length > 0 ? tail : head).pop();
  const given = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const groups = [...head, ...Array(8 - given).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const hex = groups.map((g) => Number.parseInt(g, 16).toString(16));
  if (v4) {
    const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
    hex.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  return hex;
}

/**
 * Who a client is for throttling. An IPv6 client usually holds a whole /64 and can pick
 * any address in it, so it is keyed by that prefix; an IPv4 client by its address. An
 * IPv4-mapped IPv6 address is the IPv4 client it maps.
 */
export function clientKey(ip: string | null): string {
  if (!ip) return "unknown";
  const text = ip.trim().toLowerCase().replace(/%.*$/, "");
  if (!text.includes(":")) return text;
  const groups = hextets(text);
  if (!groups) return text;
  if (groups.slice(0, 6).join(":") === "0:0:0:0:0:ffff") {
    const [hi, lo] = [Number.parseInt(groups[6]!, 16), Number.parseInt(groups[7]!, 16)];
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return `${groups.slice(0, 4).join(":")}::/64`;
}

export function throttleKeys(email: string, ip: string | null): ThrottleKey[] {
  const client = clientKey(ip);
  return [
    { key: `pair:${email}|${client}`, limit: LIMITS.pair },
    { key: `email:${email}`, limit: LIMITS.email },
    { key: `ip:${client}`, limit: LIMITS.ip },
  ];
}

/** Seconds until every full window has passed, or 0 when the attempt may go ahead. */
export function retryAfterSeconds(
  keys: ThrottleKey[],
  rows: ThrottleCounter[],
  now: number,
  windowMs = THROTTLE_WINDOW_MS,
): number {
  let until = 0;
  for (const { key, limit } of keys) {
    const row = rows.find((r) => r.key === key);
    const windowEnd = row ? row.windowStartedAt + windowMs : 0;
    if (row && row.failures >= limit && windowEnd > now) until = Math.max(until, windowEnd);
  }
  return until === 0 ? 0 : Math.ceil((until - now) / 1000);
}

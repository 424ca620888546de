/**
 * Prefixed, time-sortable ids (TypeID: prefix + UUIDv7 in base32), so a stray id in a
 * log names its kind, and ordering by id is ordering by creation (cursor pagination).
 */
const ID_PREFIX = {
  account: "acct",
  user: "usr",
  group: "grp",
  grant: "gnt",
  session: "ses",
  refreshToken: "rtk",
  apiToken: "tok",
  scimToken: "scim",
  reseller: "rsl",
  deviceOrganization: "dorg",
  device: "dev",
  invitation: "inv",
  userToken: "utk",
  ssoLoginCode: "ssoc",
  webhook: "whk",
  delivery: "dlv",
  event: "evt",
  request: "req",
} as const;

export type IdKind = keyof typeof ID_PREFIX;

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

let lastMs = 0;
let sequence = 0;

/** Random bytes drawn 4 KiB at a time: one call into the runtime per 256 ids, not per id. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
function randomBytes16(): Uint8Array {
  if (poolAt === pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  poolAt += 16;
  return pool.slice(poolAt - 16, poolAt);
}

/**
 * A UUIDv7 (48-bit milliseconds, version, variant) whose first 31 random bits are a sequence:
 * random at each new millisecond, counted up within one (a Worker's clock stands still during
 * a request), so ids made in a row sort in the order they were made.
 */
function uuidv7(): Uint8Array {
  const bytes = randomBytes16();
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    // The top bit left clear leaves room to count up within the millisecond.
    sequence = ((bytes[6]! << 22) | (bytes[7]! << 14) | (bytes[8]! << 6) | bytes[9]!) >>> 2;
  } else {
    ms = lastMs;
    sequence = (sequence + 1) >>> 0;
    if (sequence > 0x7fffffff) {
      lastMs = ms = lastMs + 1;
      sequence = 0;
    }
  }
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | ((sequence >>> 27) & 0x0f);
  bytes[7] = (sequence >>> 19) & 0xff;
  bytes[8] = 0x80 | ((sequence >>> 13) & 0x3f);
  bytes[9] = (sequence >>> 5) & 0xff;
  bytes[10] = ((sequence & 0x1f) << 3) | (bytes[10]! & 0x07);
  return bytes;
}

/** TypeID's suffix: the 128 bits in Crockford base32, two zero bits first (26 characters). */
function base32(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 2;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/**
 * Made here rather than with typeid-js: its generator validated the prefix and went through
 * the uuid package on every call, a visible share of a read's CPU (one id per request).
 */
export function newId(kind: IdKind): string {
  return `${ID_PREFIX[kind]}_${base32(uuidv7())}`;
}

/** A TypeID suffix is 26 base32 characters, the first one 0-7. */
export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIX[kind]}_[0-7][0-9a-hjkmnp-tv-z]{25}$`);
}

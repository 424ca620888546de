/**
 * Password hashing and policy. scrypt from node:crypto is
 * native, so it fits a Worker's CPU budget; hashes are self-describing
 * (`scrypt$N$r$p$salt$hash`) so the parameters can be raised later with a rehash at login.
 */
import { createHmac, scrypt as scryptCb, timingSafeEqual } from "node:crypto";
import COMMON_PASSWORDS from "./common-passwords.json";
import { AppError } from "./errors";

/** scrypt's N in production; with r = 8 and p = 5 about 100 ms of CPU per hash. */
export const STANDARD_COST = 16384;
const PARAMS = { r: 8, p: 5 } as const;

/** The pepper, and scrypt's N (lower only in development, where tests hash thousands of passwords). */
export interface PasswordHashing {
  pepper: string | null;
  cost: number;
}
const KEY_LENGTH = 32;
export const PASSWORD_MIN = 15;
export const PASSWORD_MAX = 256;

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * NFKC first, so the same password typed on another keyboard or input method (full-width
 * digits, ligatures, composed or decomposed accents) hashes, verifies and is checked alike.
 */
function normalizePassword(password: string): string {
  return password.normalize("NFKC");
}

/** With a pepper configured, the password is HMAC-ed first, so a stolen database alone cannot be cracked. */
function pepper(password: string, secret?: string | null): string {
  return secret ? createHmac("sha256", secret).update(password).digest("base64") : password;
}

export async function hashPassword(password: string, hashing: PasswordHashing): Promise<string> {
  const salt = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
  const key = await derive(
    pepper(normalizePassword(password), hashing.pepper),
    salt,
    hashing.cost,
    PARAMS.r,
    PARAMS.p,
  );
  return [
    "scrypt",
    hashing.cost,
    PARAMS.r,
    PARAMS.p,
    salt.toString("base64"),
    key.toString("base64"),
  ].join("$");
}

export async function verifyPassword(
  password: string,
  stored: string,
  hashing: PasswordHashing,
): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const key = await derive(
    pepper(normalizePassword(password), hashing.pepper),
    Buffer.from(salt, "base64"),
    Number(n),
    Number(r),
    Number(p),
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** True when a stored hash was made with weaker parameters than today's. */
export function needsRehash(stored: string, hashing: PasswordHashing): boolean {
  const [, n, r, p] = stored.split("$");
  return Number(n) < hashing.cost || Number(r) < PARAMS.r || Number(p) < PARAMS.p;
}

/**
 * A hash of a random password, computed once per isolate: verifying against it for an
 * unknown email costs the same time as for a known one.
 */
let decoy: Promise<string> | undefined;
export function decoyHash(hashing: PasswordHashing): Promise<string> {
  decoy ??= hashPassword(crypto.randomUUID(), hashing);
  return decoy;
}

/**
 * Common passwords long enough to pass the length rule, from the top million of OWASP
 * SecLists (`npm run passwords` writes the file). The Set is built on first use, once per
 * isolate, so requests that never check a password do not pay for it.
 */
let common: Set<string> | undefined;
function isCommon(lowerNormalized: string): boolean {
  common ??= new Set(COMMON_PASSWORDS as string[]);
  return common.has(lowerNormalized);
}

/**
 * NIST SP 800-63B rev. 4: length 15–256, no composition rules, reject common passwords and
 * ones built from the context (the user's email, the account's name).
 */
export function checkPasswordPolicy(
  password: string,
  context: { email?: string; accountName?: string } = {},
  field = "password",
): void {
  const fail = (detail: string) => {
    throw new AppError("weak_password", detail, {
      errors: [{ path: field, code: "weak_password", message: detail }],
    });
  };
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < PASSWORD_MIN) fail(`Password must be at least ${PASSWORD_MIN} characters.`);
  if (length > PASSWORD_MAX) fail(`Password must be at most ${PASSWORD_MAX} characters.`);
  const lower = normalized.toLowerCase();
  if (isCommon(lower) || new Set(lower).size <= 2)
    fail("Password is too common or too easy to guess.");
  const words = [context.email, context.email?.split("@")[0], context.accountName]
    .filter((w): w is string => !!w && w.length >= 4)
    .map((w) => normalizePassword(w).toLowerCase());
  if (words.some((w) => lower.includes(w) && w.length >= lower.length / 2)) {
    fail("Password must not be based on your email or the account name.");
  }
}

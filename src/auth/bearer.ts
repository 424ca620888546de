/**
 * Bearer credentials of every kind (API, reseller and, later, SCIM tokens, and the platform
 * token): `Authorization: Bearer <token>`, tokens shaped `<prefixed id>.<secret>`, and the
 * secret checked against a stored SHA-256 in constant time. A fast hash is enough for a
 * 256-bit random secret; slow ones are for passwords.
 */
import { randomSecret, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { type IdKind, idPattern } from "../lib/ids";

export function bearerToken(header: string | undefined): string | null {
  return (header && /^Bearer +(\S+)$/i.exec(header)?.[1]) || null;
}

const patterns = new Map<IdKind, RegExp>();

/** `<id>.<secret>` with an id of the given kind and a 256-bit base64url secret, or null. */
export function splitToken(raw: string, kind: IdKind): { id: string; secret: string } | null {
  const dot = raw.indexOf(".");
  if (dot < 0) return null;
  const id = raw.slice(0, dot);
  const secret = raw.slice(dot + 1);
  const pattern = patterns.get(kind) ?? idPattern(kind);
  patterns.set(kind, pattern);
  return pattern.test(id) && /^[A-Za-z0-9_-]{43}$/.test(secret) ? { id, secret } : null;
}

/** A new `<id>.<secret>` token and the digest to store. */
export async function mintBearerToken(id: string): Promise<{ token: string; secretHash: string }> {
  const secret = randomSecret();
  return { token: `${id}.${secret}`, secretHash: await sha256Hex(secret) };
}

const encoder = new TextEncoder();
const NO_HASH = "0".repeat(64);

/**
 * Whether the secret's SHA-256 is the stored digest. Without a stored digest (an unknown
 * id) it compares against a dummy of the same length, so the time says nothing.
 */
export async function secretMatches(secret: string, storedHash: string | null | undefined) {
  const presented = encoder.encode(await sha256Hex(secret));
  const ok = timingSafeEqual(presented, encoder.encode(storedHash ?? NO_HASH));
  return ok && !!storedHash;
}

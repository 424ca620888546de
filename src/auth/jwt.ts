/**
 * Short-lived access tokens (15 minutes, HS256) carrying the user, account and session ids.
 * Keys rotate: the first configured key signs, and every key verifies the tokens that name
 * it in their `kid`, so a new key can be put first while tokens signed by the old one live
 * out their quarter hour.
 */
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { sha256Hex } from "../lib/crypto";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const ISSUER = "user-management";
const AUDIENCE = "user-management-api";

interface Key {
  kid: string;
  key: CryptoKey;
}

/** Imported once per isolate: importing an HMAC key on every request is measurable work. */
const keys = new Map<string, Promise<Key>>();
function keyFor(secret: string): Promise<Key> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => ({
      // A digest names the key without revealing it.
      kid: (await sha256Hex(`kid:${secret}`)).slice(0, 16),
      key: await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign", "verify"],
      ),
    }))();
    keys.set(secret, key);
  }
  return key;
}

interface AccessClaims {
  sub: string;
  acct: string;
  sid: string;
}

export async function signAccessToken(
  secrets: string[],
  claims: AccessClaims,
  nowMs: number,
): Promise<string> {
  const { kid, key } = await keyFor(secrets[0]!);
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ acct: claims.acct, sid: claims.sid })
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid })
    .setSubject(claims.sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setJti(crypto.randomUUID())
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .sign(key);
}

/**
 * Tokens this isolate has verified, with their expiry: a dashboard sends the same token for
 * its whole quarter hour, and the signature of a given string under given keys cannot change.
 * Keyed by the key list, so a rotation (a new configuration) starts afresh. Only successes
 * are kept, and expiry is still checked on every use; the session behind the token is read
 * from D1 on every request regardless.
 */
const verified = new WeakMap<string[], Map<string, AccessClaims & { exp: number }>>();
const VERIFIED_KEPT = 10_000;

/** Returns the claims, or null for any token that is not ours, altered, expired or of a retired key. */
export async function verifyAccessToken(
  secrets: string[],
  token: string,
  nowMs: number,
): Promise<AccessClaims | null> {
  let known = verified.get(secrets);
  if (!known) {
    known = new Map();
    verified.set(secrets, known);
  }
  const hit = known.get(token);
  // jose refuses a token once `exp` is not after now, in whole seconds; so does the cache.
  if (hit) return hit.exp > Math.floor(nowMs / 1000) ? hit : null;
  const claims = await verifySignature(secrets, token, nowMs);
  if (claims) {
    // Oldest first out: a Map iterates in insertion order.
    if (known.size >= VERIFIED_KEPT) known.delete(known.keys().next().value!);
    known.set(token, claims);
  }
  return claims;
}

async function verifySignature(
  secrets: string[],
  token: string,
  nowMs: number,
): Promise<(AccessClaims & { exp: number }) | null> {
  try {
    const { kid } = decodeProtectedHeader(token);
    const all = await Promise.all(secrets.map(keyFor));
    const match = all.find((k) => k.kid === kid);
    if (!match) return null;
    const { payload } = await jwtVerify(token, match.key, {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(nowMs),
    });
    const { sub, acct, sid, exp } = payload;
    if (typeof sub !== "string" || typeof acct !== "string" || typeof sid !== "string") return null;
    if (typeof exp !== "number") return null;
    return { sub, acct, sid, exp };
  } catch {
    return null;
  }
}

/** Short-lived access tokens (15 minutes, HS256) carrying the user, account and session ids. */
import { jwtVerify, SignJWT } from "jose";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const ISSUER = "user-management";
const AUDIENCE = "user-management-api";

/** Imported once per isolate: importing an HMAC key on every request is measurable work. */
const keys = new Map<string, Promise<CryptoKey>>();
function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
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
  secret: string,
  claims: AccessClaims,
  nowMs: number,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ acct: claims.acct, sid: claims.sid })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setJti(crypto.randomUUID())
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .sign(await keyFor(secret));
}

/** Returns the claims, or null for any token that is not ours, altered or expired. */
export async function verifyAccessToken(
  secret: string,
  token: string,
  nowMs: number,
): Promise<AccessClaims | null> {
  try {
    const { payload } = await jwtVerify(token, await keyFor(secret), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(nowMs),
    });
    const { sub, acct, sid } = payload;
    if (typeof sub !== "string" || typeof acct !== "string" || typeof sid !== "string") return null;
    return { sub, acct, sid };
  } catch {
    return null;
  }
}

/**
 * API tokens look like `tok_<id>.<secret>`: the id finds the row, only SHA-256 of the
 * 256-bit secret is stored (a fast hash is enough for a random secret; a slow one is for
 * passwords), and it is compared in constant time.
 */

import { randomSecret, sha256Hex } from "../lib/crypto";
import { idPattern } from "../lib/ids";

const TOKEN_ID = idPattern("apiToken");

export function parseApiToken(raw: string): { id: string; secret: string } | null {
  const dot = raw.indexOf(".");
  if (dot < 0) return null;
  const id = raw.slice(0, dot);
  const secret = raw.slice(dot + 1);
  return TOKEN_ID.test(id) && /^[A-Za-z0-9_-]{43}$/.test(secret) ? { id, secret } : null;
}

export async function mintApiToken(id: string): Promise<{ token: string; secretHash: string }> {
  const secret = randomSecret();
  return { token: `${id}.${secret}`, secretHash: await sha256Hex(secret) };
}

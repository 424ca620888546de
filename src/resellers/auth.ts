/** Reseller tokens (`rsl_<id>.<secret>`) work on /v1/reseller/* only. */

import { eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { resellers } from "../db/schema";
import { randomSecret, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { idPattern } from "../lib/ids";

const RESELLER_ID = idPattern("reseller");

export async function mintResellerToken(id: string) {
  const secret = randomSecret();
  return { token: `${id}.${secret}`, tokenHash: await sha256Hex(secret) };
}

export type ResellerEnv = AppEnv & { Variables: { reseller: { id: string; name: string } } };

export const resellerAuth = createMiddleware<ResellerEnv>(async function resellerAuth(c, next) {
  const raw = /^Bearer +(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
  const [id, secret] = raw.split(".", 2);
  const unauthorized = () => new AppError("unauthorized", "A valid reseller token is required.");
  if (!id || !secret || !RESELLER_ID.test(id)) throw unauthorized();
  const [row] = await c.get("ctx").db.select().from(resellers).where(eq(resellers.id, id));
  const enc = new TextEncoder();
  const presented = enc.encode(await sha256Hex(secret));
  if (!row || !timingSafeEqual(presented, enc.encode(row.tokenHash))) throw unauthorized();
  c.set("reseller", { id: row.id, name: row.name });
  await next();
});

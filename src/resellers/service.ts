import type { Ctx } from "../context";
import { resellers } from "../db/schema";
import { iso } from "../lib/clock";
import { newId } from "../lib/ids";
import { mintResellerToken } from "./auth";

/** Registers a reseller partner; the token is returned once and only its hash is kept. */
export async function createReseller(ctx: Ctx, name: string) {
  const id = newId("reseller");
  const { token, tokenHash } = await mintResellerToken(id);
  await ctx.db.insert(resellers).values({ id, name, tokenHash, createdAt: ctx.now });
  return { id, name, token, created_at: iso(ctx.now)! };
}

/** Reseller tokens (`rsl_<id>.<secret>`) work on /v1/reseller/* only. */
import { createMiddleware } from "hono/factory";
import { bearerToken, secretMatches, splitToken } from "../auth/bearer";
import type { AppEnv } from "../context";
import { AppError } from "../lib/errors";
import { findReseller } from "./repo";

export type ResellerEnv = AppEnv & { Variables: { reseller: { id: string; name: string } } };

export const resellerAuth = createMiddleware<ResellerEnv>(async function resellerAuth(c, next) {
  const parsed = splitToken(bearerToken(c.req.header("authorization")) ?? "", "reseller");
  const row = parsed ? await findReseller(c.get("ctx").db, parsed.id) : null;
  if (!parsed || !(await secretMatches(parsed.secret, row?.tokenHash))) {
    throw new AppError("unauthorized", "A valid reseller token is required.");
  }
  c.set("reseller", { id: row!.id, name: row!.name });
  await next();
});

/**
 * The SCIM credential: `Authorization: Bearer scim_<id>.<secret>` of a live token, on a plan
 * with SCIM. Nothing else opens `/scim/v2`, and a SCIM token opens nothing else (the other
 * routes' authentication does not know its shape).
 */
import { createMiddleware } from "hono/factory";
import { bearerToken, secretMatches, splitToken } from "../auth/bearer";
import { requireFeature } from "../billing/features";
import type { AppEnv, Ctx, ScimClient, ScimCtx } from "../context";
import { commit } from "../db/commit";
import { AppError } from "../lib/errors";
import * as repo from "./token-repo";

/** Within this, a request does not write `last_used_at` again: an IdP's sync is many requests. */
const TOUCH_EVERY_MS = 60_000;

async function authenticateScim(ctx: Ctx, header: string | undefined): Promise<ScimClient> {
  const raw = bearerToken(header);
  const parsed = raw ? splitToken(raw, "scimToken") : null;
  if (!parsed) throw new AppError("unauthorized", "A SCIM token is required.");
  const found = await repo.findScimTokenAcrossAccounts(ctx.db, parsed.id);
  if (!(await secretMatches(parsed.secret, found?.token.secretHash)) || !found) {
    throw new AppError("unauthorized", "The SCIM token is invalid.");
  }
  const { token } = found;
  if (token.revokedAt !== null) throw new AppError("unauthorized", "The SCIM token is revoked.");
  // Refused, not revoked: after an upgrade the same token works again.
  requireFeature(found, "scim");
  if (token.lastUsedAt === null || token.lastUsedAt <= ctx.now - TOUCH_EVERY_MS) {
    const touch = commit(ctx, [repo.touchScimToken(ctx.db, token.accountId, token.id, ctx.now)]);
    ctx.waitUntil(
      touch.catch((err) =>
        console.warn(JSON.stringify({ msg: "scim token touch failed", err: String(err) })),
      ),
    );
  }
  return {
    tokenId: token.id,
    accountId: token.accountId,
    createdBy: token.createdBy,
    account: found.account,
    plan: found.plan,
    membersGroupId: found.membersGroupId,
  };
}

/** Route guard of every SCIM route. */
export const scimAuth = createMiddleware<AppEnv>(async function scimAuth(c, next) {
  c.set("scim", await authenticateScim(c.get("ctx"), c.req.header("authorization")));
  await next();
});

/** The domain context of a SCIM request. */
export const scimCtx = (c: {
  get(key: "ctx"): AppEnv["Variables"]["ctx"];
  get(key: "scim"): ScimClient;
}): ScimCtx => ({ ...c.get("ctx"), scim: c.get("scim") });

/** Who acted, as every event a SCIM request causes records it. */
export const byScim = (client: ScimClient) => ({
  accountId: client.accountId,
  actor: { type: "scim_token" as const, id: client.tokenId },
  method: "scim" as const,
});

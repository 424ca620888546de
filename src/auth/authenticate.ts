/** Turns an Authorization header into a live principal, or throws 401. */
import { recordTokenUse } from "../api-tokens/service";
import { requireFeature } from "../billing/features";
import type { Ctx, Principal } from "../context";
import type { Statement } from "../db/read";
import { AppError } from "../lib/errors";
import { bearerToken, secretMatches, splitToken } from "./bearer";
import { verifyAccessToken } from "./jwt";
import { sessionLive } from "./lifetimes";
import { loadSessionPrincipal, loadTokenPrincipalAcrossAccounts } from "./principal-repo";

const unauthorized = (detail = "A valid bearer token is required.") =>
  new AppError("unauthorized", detail);

/**
 * A read to send in the principal's D1 batch, built for the account the credential names
 * (null when it cannot be built, e.g. from input the route's validator will refuse).
 */
export type Alongside = (accountId: string) => Statement | null;

export interface Authenticated {
  principal: Principal;
  /** The alongside read's raw rows, read for `accountId`; unauthorized until the caller checks. */
  alongside?: { accountId: string; rows: unknown };
}

/**
 * The principal of the credential. With `alongside`, an access token's principal and that
 * read share one D1 batch (the token names the account); an API token's account is known only
 * from its row, so its read is left to run after, a second round trip.
 */
export async function authenticateRequest(
  ctx: Ctx,
  header: string | undefined,
  alongside?: Alongside,
): Promise<Authenticated> {
  const token = bearerToken(header);
  if (!token) throw unauthorized();
  const apiToken = splitToken(token, "apiToken");
  if (apiToken) return { principal: await fromApiToken(ctx, apiToken) };
  return fromAccessToken(ctx, token, alongside);
}

async function fromAccessToken(
  ctx: Ctx,
  token: string,
  alongside: Alongside | undefined,
): Promise<Authenticated> {
  const claims = await verifyAccessToken(ctx.config.jwtKeys, token, ctx.now);
  if (!claims) throw unauthorized("The access token is invalid or expired.");
  const extra = alongside?.(claims.acct) ?? undefined;
  const loaded = await loadSessionPrincipal(ctx.db, claims.acct, claims.sid, claims.sub, extra);
  const { found } = loaded;
  if (!found || !sessionLive(found.session, ctx.now)) {
    throw unauthorized("The session has ended.");
  }
  if (found.user.status !== "active") throw unauthorized("The session has ended.");
  const principal: Principal = {
    kind: "session",
    accountId: found.user.accountId,
    userId: found.user.id,
    sessionId: found.session.id,
    tokenId: null,
    method: found.session.method as Principal["method"],
    user: found.user,
    account: found.account,
    plan: found.plan,
    groupIds: found.groupIds,
    groups: found.groups,
    membersGroupId: found.membersGroupId,
    grants: found.grants,
  };
  // The principal was found in the account the token names, so the read is that account's.
  return extra && principal.accountId === claims.acct
    ? { principal, alongside: { accountId: claims.acct, rows: loaded.alongside } }
    : { principal };
}

async function fromApiToken(ctx: Ctx, parsed: { id: string; secret: string }): Promise<Principal> {
  const found = await loadTokenPrincipalAcrossAccounts(ctx.db, parsed.id);
  if (!found || !(await secretMatches(parsed.secret, found?.token.secretHash))) {
    throw unauthorized("The API token is invalid.");
  }
  const { token, user } = found;
  if (token.revokedAt !== null || (token.expiresAt !== null && token.expiresAt <= ctx.now)) {
    throw unauthorized("The API token has been revoked or has expired.");
  }
  if (user.status !== "active") throw unauthorized("The API token's owner is disabled.");
  // A valid token of an account whose plan dropped API tokens is refused, not revoked:
  // it works again after an upgrade.
  requireFeature(found, "api_tokens");
  recordTokenUse(ctx, token);
  const allowed = new Set(token.permissions);
  return {
    kind: "api_token",
    accountId: user.accountId,
    userId: user.id,
    sessionId: null,
    tokenId: token.id,
    method: "api_token",
    user,
    account: found.account,
    plan: found.plan,
    groupIds: found.groupIds,
    groups: found.groups,
    membersGroupId: found.membersGroupId,
    // The token acts as its creator, narrowed to the permissions it was given.
    grants: found.grants.filter((g) => allowed.has(g.permission)),
  };
}

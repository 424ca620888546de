/**
 * The console's session: the same sessions as `/v1/auth/login`, but the refresh token lives
 * in an httpOnly cookie scoped to `/v1/auth/cookie`, so script on the page (and whatever
 * might be injected into it) never holds it; the page keeps only the short access token.
 */
import type { AuthMethod, Ctx } from "../context";
import { sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { sessionLive } from "./lifetimes";
import { logout, refresh, type TokenPair } from "./service";
import { findRefreshTokenAcrossAccounts } from "./session-repo";

const COOKIE_PATH = "/v1/auth/cookie";
const COOKIE_MAX_AGE_SECONDS = 30 * 24 * 60 * 60;

/**
 * Browsers drop `Secure` cookies on plain http, which development serves on loopback, so
 * only there it is left out; everywhere else the `__Secure-` prefix makes the browser
 * refuse a copy planted over http.
 */
function cookieSpec(ctx: Ctx) {
  const insecure = ctx.config.development && ctx.config.appUrl.startsWith("http://");
  return insecure
    ? { name: "console_refresh", secure: "" }
    : { name: "__Secure-console_refresh", secure: "; Secure" };
}

export function refreshCookie(ctx: Ctx, value: string): string {
  const { name, secure } = cookieSpec(ctx);
  return `${name}=${value}; HttpOnly; SameSite=Strict; Path=${COOKIE_PATH}; Max-Age=${COOKIE_MAX_AGE_SECONDS}${secure}`;
}

export function clearedCookie(ctx: Ctx): string {
  const { name, secure } = cookieSpec(ctx);
  return `${name}=; HttpOnly; SameSite=Strict; Path=${COOKIE_PATH}; Max-Age=0${secure}`;
}

export function presentedRefreshToken(ctx: Ctx, header: string | undefined): string | null {
  const { name } = cookieSpec(ctx);
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) {
      const value = part.slice(at + 1).trim();
      return value && value.length <= 200 ? value : null;
    }
  }
  return null;
}

/**
 * SameSite=Strict keeps other sites' requests from carrying the cookie; this also refuses
 * requests a browser marks as coming from another origin (a sibling subdomain is the
 * same *site*), so only the console served from APP_URL can use these routes.
 */
export function requireSameOrigin(ctx: Ctx, origin: string | undefined, fetchSite?: string) {
  const own = new URL(ctx.config.appUrl).origin;
  if ((origin && origin !== own) || (fetchSite && fetchSite !== "same-origin")) {
    throw new AppError("forbidden", "The console session is only for the console served here.");
  }
}

/** The token pair without its refresh token, which travels in the cookie instead. */
export function withoutRefreshToken<T extends { refresh_token: string }>(pair: T) {
  const { refresh_token: _cookie, ...rest } = pair;
  return rest;
}

export async function refreshFromCookie(ctx: Ctx, presented: string | null) {
  if (!presented) {
    throw new AppError("invalid_refresh_token", "No console session: sign in again.");
  }
  return refresh(ctx, presented);
}

/**
 * Ends the session the cookie belongs to. The cookie is enough (the access token may have
 * expired while the page sat open); an unknown or ended one has nothing left to end.
 */
export async function logoutFromCookie(ctx: Ctx, presented: string | null) {
  if (!presented) return;
  const found = await findRefreshTokenAcrossAccounts(ctx.db, await sha256Hex(presented));
  if (!found || !sessionLive(found.session, ctx.now)) return;
  const { session } = found;
  await logout(ctx, {
    accountId: session.accountId,
    userId: session.userId,
    sessionId: session.id,
    method: session.method as AuthMethod,
  });
}

export type ConsoleLogin = Omit<TokenPair, "refresh_token">;

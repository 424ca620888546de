/**
 * A Team Login from start to tokens. The start keeps state, nonce and PKCE verifier in KV
 * for ten minutes, bound to the browser by a `__Host-` cookie; the callback takes them back
 * once, verifies the IdP's answer, signs the user in and answers tokens (API clients) or a
 * one-time code on the console's `redirect_to`, which `POST /v1/auth/exchange` turns into
 * tokens, so tokens never travel in a URL.
 */
import { startSession } from "../auth/service";
import { requireFeature } from "../billing/features";
import type { Ctx } from "../context";
import { commit } from "../db/commit";
import { randomSecret, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { open } from "../lib/secret-box";
import { redirectUri } from "./connection";
import { authorizationUrl, discover, newPkce, verifiedClaims } from "./oidc";
import { signInFromClaims } from "./provision";
import * as repo from "./repo";

const STATE_COOKIE = "__Host-sso_state";
const STATE_TTL_SECONDS = 600;
const CODE_TTL_MS = 60_000;

interface PendingLogin {
  accountId: string;
  issuer: string;
  nonce: string;
  verifier: string;
  /** SHA-256 of the cookie's value: only the browser that started may finish. */
  browser: string;
  redirectTo: string | null;
  expiresAt: number;
}

const stateKey = async (state: string) => `sso:state:${await sha256Hex(state)}`;

export function stateCookie(value: string, maxAge: number) {
  return `${STATE_COOKIE}=${value}; Secure; HttpOnly; Path=/; SameSite=Lax; Max-Age=${maxAge}`;
}

/** Only the service's own origin or a listed dashboard may receive the login's code. */
function allowedRedirect(ctx: Ctx, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError("sso_redirect_invalid", "redirect_to is not an absolute URL.");
  }
  const origins = [new URL(ctx.config.appUrl).origin, ...ctx.config.corsOrigins];
  if (
    !["http:", "https:"].includes(url.protocol) ||
    !origins.includes(url.origin) ||
    url.username
  ) {
    throw new AppError(
      "sso_redirect_invalid",
      "redirect_to must be on APP_URL's origin or one of the CORS_ORIGINS.",
    );
  }
  return url.toString();
}

function usableTarget(target: repo.LoginTarget | null): repo.LoginTarget {
  if (!target) {
    throw new AppError(
      "sso_not_configured",
      "No Team Login is configured for this account or email.",
    );
  }
  // After a downgrade the connection is kept, but logins wait for the plan to have it again.
  requireFeature(target, "team_login");
  return target;
}

export async function startLogin(
  ctx: Ctx,
  input: { email?: string; account_id?: string; redirect_to?: string },
) {
  const { db, now } = ctx;
  if (!input.email === !input.account_id) {
    throw new AppError("validation_failed", "Give exactly one of email and account_id.", {
      errors: [
        { path: "email", code: "invalid", message: "Give exactly one of email and account_id." },
      ],
    });
  }
  const redirectTo = input.redirect_to ? allowedRedirect(ctx, input.redirect_to) : null;
  const email = input.email ? normalizeEmail(input.email) : undefined;
  const target = usableTarget(
    email
      ? await repo.findLoginTargetByDomainAcrossAccounts(
          db,
          email.slice(email.lastIndexOf("@") + 1),
        )
      : await repo.findLoginTarget(db, input.account_id!),
  );
  const { connection } = target;
  const as = await discover(ctx, connection.issuer);
  const pkce = newPkce();
  const browser = randomSecret();
  const pending: PendingLogin = {
    accountId: connection.accountId,
    issuer: connection.issuer,
    nonce: pkce.nonce,
    verifier: pkce.verifier,
    browser: await sha256Hex(browser),
    redirectTo,
    expiresAt: now + STATE_TTL_SECONDS * 1000,
  };
  await ctx.env.TOKENS.put(await stateKey(pkce.state), JSON.stringify(pending), {
    expirationTtl: STATE_TTL_SECONDS,
  });
  const location = await authorizationUrl(
    as,
    {
      clientId: connection.clientId,
      redirectUri: redirectUri(ctx),
      groupClaim: connection.groupClaim,
      loginHint: email,
    },
    pkce,
  );
  return { location, cookie: stateCookie(browser, STATE_TTL_SECONDS) };
}

export type CallbackOutcome =
  | { kind: "tokens"; tokens: Awaited<ReturnType<typeof startSession>> }
  | { kind: "redirect"; location: string };

const stateInvalid = () =>
  new AppError(
    "sso_state_invalid",
    "The login state is unknown, expired or already used; start again.",
  );

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return null;
}

/** Takes the pending login back, once: whoever presents a state first consumes it. */
async function takePending(ctx: Ctx, state: string | null): Promise<PendingLogin> {
  if (!state || state.length > 512) throw stateInvalid();
  const key = await stateKey(state);
  const pending = await ctx.env.TOKENS.get<PendingLogin>(key, "json");
  if (!pending) throw stateInvalid();
  await ctx.env.TOKENS.delete(key);
  return pending;
}

async function sameBrowser(pending: PendingLogin, cookie: string | null) {
  if (!cookie) return false;
  const enc = new TextEncoder();
  return timingSafeEqual(enc.encode(await sha256Hex(cookie)), enc.encode(pending.browser));
}

export async function completeLogin(
  ctx: Ctx,
  callback: URL,
  cookieHeader: string | undefined,
): Promise<CallbackOutcome> {
  const pending = await takePending(ctx, callback.searchParams.get("state"));
  try {
    return await finish(ctx, pending, callback, cookieValue(cookieHeader, STATE_COOKIE));
  } catch (err) {
    // The console shows what went wrong: the code only, never tokens or personal data.
    if (err instanceof AppError && pending.redirectTo) {
      const back = new URL(pending.redirectTo);
      back.searchParams.set("error", err.code);
      return { kind: "redirect", location: back.toString() };
    }
    throw err;
  }
}

async function finish(
  ctx: Ctx,
  pending: PendingLogin,
  callback: URL,
  cookie: string | null,
): Promise<CallbackOutcome> {
  const { db, now, config } = ctx;
  if (pending.expiresAt <= now || !(await sameBrowser(pending, cookie))) throw stateInvalid();
  const error = callback.searchParams.get("error");
  if (error) {
    throw new AppError(
      "sso_idp_error",
      `The identity provider refused the login (${error.slice(0, 100)}).`,
    );
  }
  const target = usableTarget(await repo.findLoginTarget(db, pending.accountId));
  const { connection } = target;
  if (connection.issuer !== pending.issuer) throw stateInvalid();
  const as = await discover(ctx, connection.issuer);
  const claims = await verifiedClaims(
    ctx,
    as,
    {
      clientId: connection.clientId,
      clientSecret: await clientSecretOf(config.encryptionKey, connection),
      redirectUri: redirectUri(ctx),
    },
    callback,
    {
      state: callback.searchParams.get("state")!,
      nonce: pending.nonce,
      verifier: pending.verifier,
    },
  );
  const signIn = await signInFromClaims(ctx, target, {
    ...claims,
    iss: claims.iss,
    sub: claims.sub,
  });

  if (!pending.redirectTo) {
    const tokens = await startSession(ctx, signIn.user, null, "sso", {
      before: signIn.statements,
      events: signIn.events,
    });
    return { kind: "tokens", tokens };
  }
  const code = randomSecret();
  await commit(
    ctx,
    [
      ...signIn.statements,
      repo.insertLoginCode(db, {
        id: newId("ssoLoginCode"),
        accountId: connection.accountId,
        userId: signIn.user.id,
        codeHash: await sha256Hex(code),
        createdAt: now,
        expiresAt: now + CODE_TTL_MS,
        usedAt: null,
      }),
    ],
    signIn.events,
  );
  const back = new URL(pending.redirectTo);
  back.searchParams.set("code", code);
  return { kind: "redirect", location: back.toString() };
}

/** A secret sealed under a key that has since changed cannot be read: the connection needs it again. */
async function clientSecretOf(key: string, connection: repo.SsoConnectionRow) {
  try {
    return await open(key, connection.accountId, connection.clientSecretEnc);
  } catch {
    throw new AppError(
      "sso_not_configured",
      "The connection's client secret cannot be read; an administrator must save it again.",
    );
  }
}

/** The one-time code of a browser login, for the tokens: once, within a minute, even under a race. */
export async function exchangeLoginCode(ctx: Ctx, code: string) {
  const { db, now } = ctx;
  const found = await repo.findLoginCodeAcrossAccounts(db, await sha256Hex(code));
  const invalid = () =>
    new AppError("sso_code_invalid", "The login code is unknown, expired or already used.");
  if (!found || found.code.usedAt !== null || found.code.expiresAt <= now) throw invalid();
  const { code: row, user } = found;
  if (user.status !== "active") throw new AppError("user_disabled", "This user has been disabled.");
  return startSession(ctx, user, null, "sso", {
    before: [
      repo.guardLoginCodeUsable(row.accountId, row.id, now),
      repo.markLoginCodeUsed(db, row.accountId, row.id, now),
    ],
  });
}

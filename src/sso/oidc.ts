/**
 * The relying-party side of OpenID Connect, through oauth4webapi: discovery (validated, and
 * cached in KV for an hour), the authorization URL with PKCE S256, and the code exchange
 * with the id_token checked for issuer, audience, expiry, nonce, and its signature against
 * the IdP's JWKS with an explicit algorithm allowlist. Every failure of the IdP or of its
 * answers becomes a 4xx problem, never a 5xx.
 */
import * as oauth from "oauth4webapi";
import type { Config } from "../config";
import type { Ctx } from "../context";
import { AppError } from "../lib/errors";

/** Asymmetric signatures only, strongest-supported first; `none` and HMAC are never accepted. */
const ALGORITHMS = [
  "RS256",
  "ES256",
  "PS256",
  "EdDSA",
  "RS384",
  "ES384",
  "PS384",
  "RS512",
  "PS512",
];
const DISCOVERY_TTL_SECONDS = 3600;
const TIMEOUT_MS = 10_000;

/** In development an http issuer on a loopback address is allowed (a local IdP); nowhere else. */
export function issuerAllowed(config: Config, issuer: URL): boolean {
  if (issuer.protocol === "https:") return true;
  return config.development && issuer.protocol === "http:" && isLoopback(issuer.hostname);
}

const isLoopback = (host: string) =>
  host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);

function httpOptions(config: Config, issuer: string) {
  const url = new URL(issuer);
  return {
    [oauth.allowInsecureRequests]: url.protocol === "http:" && issuerAllowed(config, url),
    signal: () => AbortSignal.timeout(TIMEOUT_MS),
  };
}

const discoveryKey = (issuer: string) => `sso:discovery:${issuer}`;
const jwksKey = (issuer: string) => `sso:jwks:${issuer}`;

function describe(err: unknown): string {
  if (err instanceof AppError) return err.detail ?? err.message;
  const e = err as { message?: string; code?: string; error?: string };
  return e.error ? `${e.error}: ${e.message ?? ""}` : String(e.message ?? err);
}

function usable(as: oauth.AuthorizationServer): string | null {
  if (!as.authorization_endpoint) return "it names no authorization_endpoint";
  if (!as.token_endpoint) return "it names no token_endpoint";
  if (!as.jwks_uri) return "it names no jwks_uri";
  if (as.response_types_supported && !as.response_types_supported.includes("code"))
    return "it does not support the authorization code flow";
  if (!signingAlgorithm(as)) return "it signs id_tokens with no algorithm this service accepts";
  return null;
}

/** The id_token algorithm this client requires: the first of the allowlist the IdP offers. */
function signingAlgorithm(as: oauth.AuthorizationServer): string | undefined {
  const offered = as.id_token_signing_alg_values_supported ?? ["RS256"];
  return ALGORITHMS.find((alg) => offered.includes(alg));
}

/** The issuer's metadata, from KV when cached; `fresh` fetches it again (a connection being saved). */
export async function discover(
  ctx: Ctx,
  issuer: string,
  { fresh = false } = {},
): Promise<oauth.AuthorizationServer> {
  if (!fresh) {
    const cached = await ctx.env.TOKENS.get<oauth.AuthorizationServer>(
      discoveryKey(issuer),
      "json",
    );
    if (cached) return cached;
  }
  let as: oauth.AuthorizationServer;
  try {
    const url = new URL(issuer);
    const response = await oauth.discoveryRequest(url, {
      algorithm: "oidc",
      ...httpOptions(ctx.config, issuer),
    });
    as = await oauth.processDiscoveryResponse(url, response);
  } catch (err) {
    throw new AppError(
      "sso_issuer_invalid",
      `The issuer's discovery document could not be used: ${describe(err)}.`,
    );
  }
  const problem = usable(as);
  if (problem) throw new AppError("sso_issuer_invalid", `The issuer is not usable: ${problem}.`);
  await ctx.env.TOKENS.put(discoveryKey(issuer), JSON.stringify(as), {
    expirationTtl: DISCOVERY_TTL_SECONDS,
  });
  return as;
}

export interface Pkce {
  state: string;
  nonce: string;
  verifier: string;
}

export function newPkce(): Pkce {
  return {
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    verifier: oauth.generateRandomCodeVerifier(),
  };
}

export async function authorizationUrl(
  as: oauth.AuthorizationServer,
  input: { clientId: string; redirectUri: string; groupClaim: string; loginHint?: string },
  pkce: Pkce,
): Promise<string> {
  const url = new URL(as.authorization_endpoint!);
  // A groups scope only where the IdP lists one by the claim's name: unknown scopes fail at some IdPs.
  const scopes = ["openid", "email", "profile"];
  if (as.scopes_supported?.includes(input.groupClaim)) scopes.push(input.groupClaim);
  url.search = new URLSearchParams({
    client_id: input.clientId,
    redirect_uri: input.redirectUri,
    response_type: "code",
    scope: scopes.join(" "),
    state: pkce.state,
    nonce: pkce.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(pkce.verifier),
    code_challenge_method: "S256",
    ...(input.loginHint ? { login_hint: input.loginHint } : {}),
  }).toString();
  return url.toString();
}

function clientAuth(as: oauth.AuthorizationServer, secret: string) {
  const methods = as.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
  return methods.includes("client_secret_basic") || !methods.includes("client_secret_post")
    ? oauth.ClientSecretBasic(secret)
    : oauth.ClientSecretPost(secret);
}

/**
 * Exchanges the callback's code for a verified id_token and answers its claims. `callback`
 * is the URL the IdP sent the browser to; `expected` what the start kept.
 */
export async function verifiedClaims(
  ctx: Ctx,
  as: oauth.AuthorizationServer,
  input: { clientId: string; clientSecret: string; redirectUri: string },
  callback: URL,
  expected: { state: string; nonce: string; verifier: string },
): Promise<oauth.IDToken> {
  const client: oauth.Client = {
    client_id: input.clientId,
    id_token_signed_response_alg: signingAlgorithm(as),
    // Token times are judged by the service's clock seam, like everything else.
    [oauth.clockSkew]: Math.round((ctx.now - Date.now()) / 1000),
  };
  const options = httpOptions(ctx.config, as.issuer);
  try {
    const params = oauth.validateAuthResponse(as, client, callback, expected.state);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth(as, input.clientSecret),
      params,
      input.redirectUri,
      expected.verifier,
      options,
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: expected.nonce,
      requireIdToken: true,
    });
    await validateSignature(ctx, as, response, options);
    const claims = oauth.getValidatedIdTokenClaims(result);
    if (!claims) throw new Error("no id_token");
    return claims;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(
      "sso_idp_error",
      `The identity provider's answer did not verify: ${describe(err)}.`,
    );
  }
}

/** The id_token's signature against the IdP's JWKS, the key set cached in KV between logins. */
async function validateSignature(
  ctx: Ctx,
  as: oauth.AuthorizationServer,
  response: Response,
  options: ReturnType<typeof httpOptions>,
) {
  const stored = await ctx.env.TOKENS.get<oauth.ExportedJWKSCache>(jwksKey(as.issuer), "json");
  const cache: oauth.JWKSCacheInput = stored ?? {};
  await oauth.validateApplicationLevelSignature(as, response, {
    ...options,
    [oauth.jwksCache]: cache,
  });
  if ("uat" in cache && cache.uat !== stored?.uat) {
    await ctx.env.TOKENS.put(jwksKey(as.issuer), JSON.stringify(cache), {
      expirationTtl: DISCOVERY_TTL_SECONDS,
    });
  }
}

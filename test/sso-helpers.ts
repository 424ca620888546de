/** Team Login helpers for the workerd suite: a connection to the test IdP, and a whole login. */
import { expect, inject } from "vitest";
import { type CallOptions, call, type TestAccount } from "./helpers";
import { TEST_CLIENT } from "./oidc/global-setup";
import { seedIdpUser, setCookies, signInAtIdp } from "./oidc/idp-login";

export const issuer = () => inject("idpIssuer");
export const CALLBACK = TEST_CLIENT.redirect_uris[0]!;

let counter = 0;
export const newDomain = (label = "acme") =>
  `${label}-${Date.now().toString(36)}-${++counter}.example`;

export function connectionBody(domain: string, overrides: Record<string, unknown> = {}) {
  return {
    issuer: issuer(),
    client_id: TEST_CLIENT.client_id,
    client_secret: TEST_CLIENT.client_secret,
    domains: [domain],
    jit: { enabled: true, default_group_ids: [] },
    ...overrides,
  };
}

/** PUT /v1/sso/connection with a working connection for `domain`; expects 200. */
export async function connect(
  admin: TestAccount,
  domain: string,
  overrides: Record<string, unknown> = {},
) {
  const res = await call("PUT", "/v1/sso/connection", {
    token: admin.token,
    body: connectionBody(domain, overrides),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

export interface IdpUser {
  sub: string;
  email: string;
  email_verified?: boolean;
  groups?: string[];
}

/** GET /v1/sso/start; answers the IdP URL and the state cookie it set. */
export async function start(query: string, opts: CallOptions = {}) {
  const res = await call("GET", `/v1/sso/start?${query}`, opts);
  expect(res.status, JSON.stringify(res.body)).toBe(302);
  const cookie = setCookies(res.headers)
    .map((line) => line.split(";")[0]!)
    .find((pair) => pair.startsWith("__Host-sso_state="))!;
  expect(cookie).toBeTruthy();
  return { location: res.headers.get("location")!, cookie, res };
}

/** Signs `user` in at the IdP for an authorization URL; answers the callback's path and query. */
export async function atIdp(location: string, user: IdpUser) {
  await seedIdpUser(issuer(), user.sub, {
    email: user.email,
    email_verified: user.email_verified ?? true,
    groups: user.groups ?? [],
  });
  const back = new URL(await signInAtIdp(location, user.sub, CALLBACK));
  return back.pathname + back.search;
}

/** A whole Team Login: start, the IdP, then the callback with the browser's cookie. */
export async function ssoLogin(query: string, user: IdpUser, opts: CallOptions = {}) {
  const started = await start(query, opts);
  const callback = await atIdp(started.location, user);
  const res = await call("GET", callback, {
    ...opts,
    headers: { ...opts.headers, cookie: started.cookie },
  });
  return { res, callback, cookie: started.cookie, location: started.location };
}

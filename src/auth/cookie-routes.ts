/**
 * The console's cookie-held session (see cookie-session.ts). Every route takes a JSON body,
 * even an empty `{}`: a cross-site form cannot send one, and a cross-origin script would
 * need a preflight that these routes never grant.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { BODY_ERRORS, errors, jsonBody, jsonResponse } from "../http/openapi";
import { createRouter } from "../http/router";
import { PASSWORD_MAX } from "../lib/password";
import { exchangeLoginCode } from "../sso/login";
import { UserSchema } from "../users/dto";
import {
  clearedCookie,
  logoutFromCookie,
  presentedRefreshToken,
  refreshCookie,
  refreshFromCookie,
  requireSameOrigin,
  withoutRefreshToken,
} from "./cookie-session";
import { login } from "./service";

const tags = ["Console session"];
const AccessToken = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
});
const ConsoleLogin = AccessToken.extend({
  user: UserSchema,
  must_change_password: z.boolean(),
}).openapi("ConsoleLoginResult");
const setCookie = {
  "set-cookie": {
    schema: { type: "string" as const },
    description: "The refresh cookie: HttpOnly; SameSite=Strict; Path=/v1/auth/cookie",
  },
};
const Empty = z.strictObject({});
const ORIGIN_ERRORS = ["forbidden"] as const;

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  tags,
  summary: "Console sign-in: the access token in the body, the refresh token in a cookie",
  request: {
    body: jsonBody(
      z.strictObject({
        email: z.string().min(1).max(320),
        password: z
          .string()
          .min(1)
          .max(PASSWORD_MAX * 4),
      }),
    ),
  },
  responses: {
    200: { ...jsonResponse(ConsoleLogin, "Signed in"), headers: setCookie },
    ...errors(
      ...BODY_ERRORS,
      ...ORIGIN_ERRORS,
      "invalid_credentials",
      "user_disabled",
      "too_many_attempts",
      "sso_required",
    ),
  },
});

const exchangeRoute = createRoute({
  method: "post",
  path: "/exchange",
  tags,
  summary: "Console Team Login: trade the one-time code for an access token and the cookie",
  request: { body: jsonBody(z.strictObject({ code: z.string().min(1).max(200) })) },
  responses: {
    200: { ...jsonResponse(ConsoleLogin, "Signed in"), headers: setCookie },
    ...errors(...BODY_ERRORS, ...ORIGIN_ERRORS, "sso_code_invalid", "user_disabled"),
  },
});

/** A refused cookie is of no further use: clear it so the browser stops presenting it. */
const dropDeadCookie = createMiddleware<AppEnv>(async function dropDeadCookie(c, next) {
  await next();
  if (c.res.status === 401) c.res.headers.append("set-cookie", clearedCookie(c.get("ctx")));
});

const refreshRoute = createRoute({
  method: "post",
  path: "/refresh",
  tags,
  summary:
    "A new access token from the refresh cookie, which rotates; reusing an old one ends the session",
  request: { body: jsonBody(Empty) },
  middleware: [dropDeadCookie],
  responses: {
    200: {
      ...jsonResponse(AccessToken.openapi("ConsoleAccessToken"), "Refreshed"),
      headers: setCookie,
    },
    ...errors(...BODY_ERRORS, ...ORIGIN_ERRORS, "invalid_refresh_token"),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/logout",
  tags,
  summary: "End the cookie's session and clear the cookie",
  request: { body: jsonBody(Empty) },
  responses: {
    204: { description: "Signed out (also when there was no session)", headers: setCookie },
    ...errors(...BODY_ERRORS, ...ORIGIN_ERRORS),
  },
});

function sameOrigin(c: Context<AppEnv>) {
  requireSameOrigin(c.get("ctx"), c.req.header("origin"), c.req.header("sec-fetch-site"));
}

const cookieOf = (c: Context<AppEnv>) =>
  presentedRefreshToken(c.get("ctx"), c.req.header("cookie"));

export const cookieRoutes = createRouter()
  .openapi(loginRoute, async (c) => {
    sameOrigin(c);
    const ctx = c.get("ctx");
    const pair = await login(ctx, c.req.valid("json"));
    c.header("set-cookie", refreshCookie(ctx, pair.refresh_token));
    return c.json(withoutRefreshToken(pair), 200);
  })
  .openapi(exchangeRoute, async (c) => {
    sameOrigin(c);
    const ctx = c.get("ctx");
    const pair = await exchangeLoginCode(ctx, c.req.valid("json").code);
    c.header("set-cookie", refreshCookie(ctx, pair.refresh_token));
    return c.json(withoutRefreshToken(pair), 200);
  })
  .openapi(refreshRoute, async (c) => {
    sameOrigin(c);
    const ctx = c.get("ctx");
    const pair = await refreshFromCookie(ctx, cookieOf(c));
    c.header("set-cookie", refreshCookie(ctx, pair.refresh_token));
    return c.json(withoutRefreshToken(pair), 200);
  })
  .openapi(logoutRoute, async (c) => {
    sameOrigin(c);
    const ctx = c.get("ctx");
    await logoutFromCookie(ctx, cookieOf(c));
    return c.body(null, 204, { "set-cookie": clearedCookie(ctx) });
  });

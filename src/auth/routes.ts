import { createRoute, z } from "@hono/zod-openapi";
import { authenticate } from "../http/middleware";
import { BODY_ERRORS, bearer, errors, jsonBody, jsonResponse } from "../http/openapi";
import { createRouter } from "../http/router";
import { PASSWORD_MAX } from "../lib/password";
import { UserSchema } from "../users/dto";
import { login, logout, refresh } from "./service";

const Tokens = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
});
export const LoginResult = Tokens.extend({
  user: UserSchema,
  must_change_password: z.boolean(),
}).openapi("LoginResult");

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  tags: ["Auth"],
  summary: "Log in with email and password",
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
    200: jsonResponse(LoginResult, "Logged in"),
    ...errors(
      ...BODY_ERRORS,
      "invalid_credentials",
      "user_disabled",
      "too_many_attempts",
      "sso_required",
    ),
  },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/refresh",
  tags: ["Auth"],
  summary:
    "Exchange a refresh token for a new pair; the old one dies, and reusing it ends the session",
  request: { body: jsonBody(z.strictObject({ refresh_token: z.string().min(1).max(200) })) },
  responses: {
    200: jsonResponse(Tokens.openapi("TokenPair"), "New token pair"),
    ...errors(...BODY_ERRORS, "invalid_refresh_token"),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/logout",
  tags: ["Auth"],
  summary: "End the current session; its access token stops working at once",
  security: bearer,
  middleware: [authenticate],
  responses: { 204: { description: "Logged out" }, ...errors("unauthorized", "forbidden") },
});

export const authRoutes = createRouter()
  .openapi(loginRoute, async (c) => c.json(await login(c.get("ctx"), c.req.valid("json")), 200))
  .openapi(refreshRoute, async (c) =>
    c.json(await refresh(c.get("ctx"), c.req.valid("json").refresh_token), 200),
  )
  .openapi(logoutRoute, async (c) => {
    await logout(c.get("ctx"), c.get("principal"));
    return c.body(null, 204);
  });

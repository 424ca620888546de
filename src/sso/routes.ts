import { createRoute, z } from "@hono/zod-openapi";
import { LoginResult } from "../auth/routes";
import { authed, requiresFeature } from "../http/middleware";
import {
  AUTHED_ERRORS,
  BODY_ERRORS,
  bearer,
  errors,
  jsonBody,
  jsonResponse,
} from "../http/openapi";
import { createRouter } from "../http/router";
import { deleteConnection, getConnection, putConnection } from "./connection";
import { completeLogin, exchangeLoginCode, startLogin, stateCookie } from "./login";

const tags = ["Team Login"];
const guard = requiresFeature("team_login", "sso:manage");
const PLAN_ERRORS = [...AUTHED_ERRORS, "feature_not_in_plan"] as const;

/** A DNS name with at least two labels, lower-cased; no wildcards, no trailing dot. */
const Domain = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(?=[a-z0-9])([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/, {
    message: "Not a domain name.",
  });
const GroupIds = z.array(z.string().min(1).max(100)).max(50);

const ConnectionInput = z
  .strictObject({
    issuer: z.url({ protocol: /^https?$/ }).max(500),
    client_id: z.string().trim().min(1).max(255),
    client_secret: z.string().min(1).max(1000).optional().openapi({
      description: "Required when the connection is created; left out, the stored one is kept.",
    }),
    domains: z.array(Domain).min(1).max(50),
    sso_required: z.boolean().optional(),
    jit: z.strictObject({ enabled: z.boolean(), default_group_ids: GroupIds }),
    group_claim: z.string().trim().min(1).max(100).optional(),
    group_mapping: z
      .record(z.string().min(1).max(200), GroupIds)
      .refine((m) => Object.keys(m).length <= 100, "At most 100 mapped claim values.")
      .optional(),
  })
  .openapi("SsoConnectionInput");

const Connection = z
  .object({
    issuer: z.string(),
    client_id: z.string(),
    domains: z.array(z.string()),
    sso_required: z.boolean(),
    jit: z.object({ enabled: z.boolean(), default_group_ids: z.array(z.string()) }),
    group_claim: z.string(),
    group_mapping: z.record(z.string(), z.array(z.string())),
    redirect_uri: z.string().openapi({ description: "Register this at the IdP." }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("SsoConnection");

const getRoute = createRoute({
  method: "get",
  path: "/connection",
  tags,
  security: bearer,
  summary: "The account's Team Login connection (never its client secret)",
  middleware: guard,
  responses: {
    200: jsonResponse(Connection, "The connection"),
    ...errors(...PLAN_ERRORS, "not_found"),
  },
});

const putRoute = createRoute({
  method: "put",
  path: "/connection",
  tags,
  security: bearer,
  summary: "Create or replace the account's OpenID Connect connection",
  middleware: guard,
  request: { body: jsonBody(ConnectionInput) },
  responses: {
    200: jsonResponse(Connection, "Saved"),
    ...errors(
      ...PLAN_ERRORS,
      ...BODY_ERRORS,
      "permission_not_held",
      "sso_domain_taken",
      "sso_issuer_invalid",
    ),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/connection",
  tags,
  security: bearer,
  summary: "Remove the account's connection; its domains are freed",
  middleware: guard,
  responses: { 204: { description: "Removed" }, ...errors(...PLAN_ERRORS, "not_found") },
});

const redirect = (description: string) => ({
  description,
  headers: {
    location: { schema: { type: "string" as const } },
    "set-cookie": { schema: { type: "string" as const } },
  },
});

const startRoute = createRoute({
  method: "get",
  path: "/start",
  tags,
  summary: "Begin a Team Login: redirects to the account's identity provider",
  request: {
    query: z.object({
      email: z.string().trim().min(3).max(320).optional(),
      account_id: z.string().min(1).max(100).optional(),
      redirect_to: z.string().max(2000).optional().openapi({
        description:
          "Where the console wants the one-time code: APP_URL's origin or a CORS origin.",
      }),
    }),
  },
  responses: {
    302: redirect("To the identity provider, with a state cookie"),
    ...errors(
      "validation_failed",
      "sso_redirect_invalid",
      "feature_not_in_plan",
      "sso_not_configured",
      "sso_issuer_invalid",
    ),
  },
});

const callbackRoute = createRoute({
  method: "get",
  path: "/callback",
  tags,
  summary: "Where the identity provider returns: verifies, provisions and logs in",
  request: {
    query: z.object({
      state: z.string().max(512).optional(),
      code: z.string().max(2000).optional(),
      error: z.string().max(200).optional(),
      error_description: z.string().max(2000).optional(),
      iss: z.string().max(500).optional(),
    }),
  },
  responses: {
    200: jsonResponse(LoginResult, "Logged in (no redirect_to at the start)"),
    302: redirect("To redirect_to with ?code= (or ?error=<code>)"),
    ...errors(
      "sso_state_invalid",
      "sso_idp_error",
      "sso_email_unverified",
      "sso_domain_mismatch",
      "sso_jit_disabled",
      "sso_not_configured",
      "feature_not_in_plan",
      "user_disabled",
      "email_taken",
      "capacity_exceeded",
    ),
  },
});

const clearCookie = stateCookie("", 0);

export const ssoRoutes = createRouter()
  .openapi(getRoute, async (c) => c.json(await getConnection(authed(c)), 200))
  .openapi(putRoute, async (c) => c.json(await putConnection(authed(c), c.req.valid("json")), 200))
  .openapi(deleteRoute, async (c) => {
    await deleteConnection(authed(c));
    return c.body(null, 204);
  })
  .openapi(startRoute, async (c) => {
    const { location, cookie } = await startLogin(c.get("ctx"), c.req.valid("query"));
    return c.body(null, 302, { location, "set-cookie": cookie, "cache-control": "no-store" });
  })
  .openapi(callbackRoute, async (c) => {
    c.header("set-cookie", clearCookie);
    c.header("cache-control", "no-store");
    const outcome = await completeLogin(c.get("ctx"), new URL(c.req.url), c.req.header("cookie"));
    if (outcome.kind === "redirect") return c.body(null, 302, { location: outcome.location });
    return c.json(outcome.tokens, 200);
  });

const exchangeRoute = createRoute({
  method: "post",
  path: "/exchange",
  tags: ["Auth"],
  summary: "Trade the one-time code of a Team Login redirect for tokens (60 s, once)",
  request: { body: jsonBody(z.strictObject({ code: z.string().min(1).max(200) })) },
  responses: {
    200: jsonResponse(LoginResult, "Logged in"),
    ...errors(...BODY_ERRORS, "sso_code_invalid", "user_disabled"),
  },
});

export const ssoExchangeRoutes = createRouter().openapi(exchangeRoute, async (c) =>
  c.json(await exchangeLoginCode(c.get("ctx"), c.req.valid("json").code), 200),
);

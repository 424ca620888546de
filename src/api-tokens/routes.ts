import { createRoute, z } from "@hono/zod-openapi";
import { PERMISSIONS } from "../authz/catalog";
import { authed, requiresFeature } from "../http/middleware";
import {
  AUTHED_ERRORS,
  BODY_ERRORS,
  bearer,
  errors,
  IdParam,
  jsonBody,
  jsonResponse,
  PageQuery,
  page,
} from "../http/openapi";
import { createRouter } from "../http/router";
import { createApiToken, listApiTokens, revokeApiToken } from "./service";

const tags = ["API tokens"];
const ApiToken = z
  .object({
    id: z.string(),
    name: z.string(),
    permissions: z.array(z.string()),
    user_id: z.string(),
    expires_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("ApiToken");

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "List the account's active API tokens",
  middleware: requiresFeature("api_tokens", "api_tokens:manage"),
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(ApiToken), "Tokens"),
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", "validation_failed"),
  },
});

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  security: bearer,
  summary:
    "Create an API token from a login session (not with another token); it lives at most 365 days; the secret is shown once",
  middleware: requiresFeature("api_tokens", "api_tokens:manage"),
  request: {
    body: jsonBody(
      z.strictObject({
        name: z.string().trim().min(1).max(100),
        permissions: z.array(z.enum(PERMISSIONS)).min(1).max(PERMISSIONS.length),
        expires_at: z.iso
          .datetime({ offset: true })
          .optional()
          .openapi({ description: "At most 365 days ahead; a later or absent one becomes that" }),
      }),
    ),
  },
  responses: {
    201: jsonResponse(
      ApiToken.extend({ token: z.string() }).openapi("NewApiToken"),
      "Created; `token` is shown only now",
    ),
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", ...BODY_ERRORS, "permission_not_held"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Revoke an API token",
  middleware: requiresFeature("api_tokens", "api_tokens:manage"),
  request: { params: IdParam() },
  responses: {
    204: { description: "Revoked" },
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", "not_found"),
  },
});

export const apiTokenRoutes = createRouter()
  .openapi(list, async (c) => {
    const q = c.req.valid("query");
    return c.json(await listApiTokens(authed(c), q.limit, q.cursor), 200);
  })
  .openapi(create, async (c) => c.json(await createApiToken(authed(c), c.req.valid("json")), 201))
  .openapi(remove, async (c) => {
    await revokeApiToken(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

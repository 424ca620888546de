import { createRoute, z } from "@hono/zod-openapi";
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
import { createScimToken, listScimTokens, revokeScimToken } from "./tokens";

const tags = ["Team Login"];
const ScimToken = z
  .object({
    id: z.string(),
    name: z.string(),
    created_by: z.string().nullable(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
  })
  .openapi("ScimToken");
const guard = requiresFeature("scim", "sso:manage");
const PLAN_ERRORS = [...AUTHED_ERRORS, "feature_not_in_plan"] as const;

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "List the account's SCIM tokens",
  middleware: guard,
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(ScimToken), "SCIM tokens"),
    ...errors(...PLAN_ERRORS, "validation_failed"),
  },
});

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  security: bearer,
  summary: "Create a SCIM token for the identity provider; the token is shown once",
  middleware: guard,
  request: { body: jsonBody(z.strictObject({ name: z.string().trim().min(1).max(100) })) },
  responses: {
    201: jsonResponse(ScimToken.extend({ token: z.string() }).openapi("NewScimToken"), "Created"),
    ...errors(...PLAN_ERRORS, ...BODY_ERRORS),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Revoke a SCIM token",
  middleware: guard,
  request: { params: IdParam() },
  responses: { 204: { description: "Revoked" }, ...errors(...PLAN_ERRORS, "not_found") },
});

export const scimTokenRoutes = createRouter()
  .openapi(list, async (c) => {
    const q = c.req.valid("query");
    return c.json(await listScimTokens(authed(c), q.limit, q.cursor), 200);
  })
  .openapi(create, async (c) =>
    c.json(await createScimToken(authed(c), c.req.valid("json").name), 201),
  )
  .openapi(remove, async (c) => {
    await revokeScimToken(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

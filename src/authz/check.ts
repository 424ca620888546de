/** `POST /v1/authz/check`: other services of the platform ask whether a user may do something. */
import { createRoute, z } from "@hono/zod-openapi";
import type { AuthedCtx } from "../context";
import { authed, requires } from "../http/middleware";
import {
  AUTHED_ERRORS,
  BODY_ERRORS,
  bearer,
  errors,
  jsonBody,
  jsonResponse,
} from "../http/openapi";
import { createRouter } from "../http/router";
import { AppError } from "../lib/errors";
import { authorize, type Resource } from "./authorize";
import { PERMISSIONS, type Permission } from "./catalog";
import { loadUserGrants } from "./repo";

async function checkAccess(
  ctx: AuthedCtx,
  input: { user_id: string; permission: Permission; resource?: Resource },
) {
  const found = await loadUserGrants(ctx.db, ctx.principal.accountId, input.user_id);
  if (!found) throw new AppError("not_found", "No such user.");
  // A disabled user may do nothing, whatever its groups say.
  if (found.status !== "active") return { allowed: false, granted_by: [] };
  const decision = authorize(found.grants, input.permission, input.resource);
  return { allowed: decision.allowed, granted_by: decision.grantedBy };
}

const check = createRoute({
  method: "post",
  path: "/check",
  tags: ["Authorization"],
  security: bearer,
  summary:
    "Whether a user holds a permission, optionally for one device organization or content type",
  middleware: requires("users:read"),
  request: {
    body: jsonBody(
      z.strictObject({
        user_id: z.string().min(1).max(64),
        permission: z.enum(PERMISSIONS),
        resource: z
          .strictObject({
            device_organization_id: z.string().min(1).max(64).optional(),
            content_type: z.string().min(1).max(100).optional(),
          })
          .optional(),
      }),
    ),
  },
  responses: {
    200: jsonResponse(
      z.object({ allowed: z.boolean(), granted_by: z.array(z.string()) }).openapi("AuthzDecision"),
      "Decision",
    ),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS, "not_found"),
  },
});

export const authzRoutes = createRouter().openapi(check, async (c) =>
  c.json(await checkAccess(authed(c), c.req.valid("json")), 200),
);

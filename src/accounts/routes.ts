import { createRoute, z } from "@hono/zod-openapi";
import { authed, authenticate, requires } from "../http/middleware";
import {
  AUTHED_ERRORS,
  BODY_ERRORS,
  bearer,
  errors,
  jsonBody,
  jsonResponse,
} from "../http/openapi";
import { createRouter } from "../http/router";
import { describeAccount, updateAccount } from "./service";

const tags = ["Account"];

export const AccountSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.string(),
    features: z.array(z.string()),
    managed_by: z.union([
      z.object({ type: z.literal("reseller"), id: z.string(), name: z.string() }),
      z.object({ type: z.literal("direct") }),
    ]),
    settings: z.object({ invitation_ttl_hours: z.number().int() }),
    created_at: z.string(),
  })
  .openapi("Account");

const get = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "The caller's account: name, plan, features, who manages it",
  middleware: [authenticate],
  responses: {
    200: jsonResponse(AccountSchema, "The account"),
    ...errors("unauthorized", "password_change_required"),
  },
});

const update = createRoute({
  method: "patch",
  path: "/",
  tags,
  security: bearer,
  summary: "Rename the account or change its settings",
  middleware: requires("account:manage"),
  request: {
    body: jsonBody(
      z.strictObject({
        name: z.string().trim().min(1).max(200).optional(),
        settings: z
          .strictObject({ invitation_ttl_hours: z.number().int().min(1).max(720) })
          .optional(),
      }),
    ),
  },
  responses: {
    200: jsonResponse(AccountSchema, "Updated"),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS),
  },
});

export const accountRoutes = createRouter()
  .openapi(get, async (c) => c.json(await describeAccount(authed(c)), 200))
  .openapi(update, async (c) => c.json(await updateAccount(authed(c), c.req.valid("json")), 200));

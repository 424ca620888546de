import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { PLAN_IDS } from "../billing/plans";
import { LimitsSchema } from "../billing/routes";
import {
  BODY_ERRORS,
  bearer,
  errors,
  IdParam,
  jsonBody,
  jsonResponse,
  PageQuery,
  page,
} from "../http/openapi";
import { validationHook } from "../http/router";
import { type ResellerEnv, resellerAuth } from "./auth";
import { changeAccount, listAccounts } from "./service";

const tags = ["Resellers"];

export const CapacityChangeBody = z
  .strictObject({
    plan: z.enum(PLAN_IDS).optional(),
    user_limit: z.number().int().min(0).max(1_000_000).nullable().optional(),
    device_limit: z.number().int().min(0).max(10_000_000).nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: "Give plan, user_limit or device_limit." });

const ResellerAccount = z
  .object({ id: z.string(), name: z.string(), limits: LimitsSchema })
  .openapi("ResellerAccount");

const list = createRoute({
  method: "get",
  path: "/accounts",
  tags,
  security: bearer,
  summary: "The reseller's accounts with their limits and use",
  middleware: [resellerAuth],
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(ResellerAccount), "Accounts"),
    ...errors("unauthorized", "validation_failed"),
  },
});

const update = createRoute({
  method: "patch",
  path: "/accounts/{id}",
  tags,
  security: bearer,
  summary: "Change one of the reseller's accounts' plan or limits",
  middleware: [resellerAuth],
  request: { params: IdParam(), body: jsonBody(CapacityChangeBody) },
  responses: {
    200: jsonResponse(LimitsSchema, "New limits"),
    ...errors("unauthorized", ...BODY_ERRORS, "not_found", "limit_below_usage"),
  },
});

export const resellerRoutes = new OpenAPIHono<ResellerEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listAccounts(c.get("ctx"), c.get("reseller").id, limit, cursor), 200);
  })
  .openapi(update, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(
      await changeAccount(c.get("ctx"), c.get("reseller").id, id, c.req.valid("json")),
      200,
    );
  });

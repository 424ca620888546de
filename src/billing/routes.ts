import { createRoute, z } from "@hono/zod-openapi";
import { by } from "../activity/record";
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
import { PLAN_IDS } from "./plans";
import { changeOwnPlan, describeLimits } from "./service";

const tags = ["Billing & Limits"];

export const LimitsSchema = z
  .object({
    plan: z.string(),
    users: z.object({
      limit: z.number().int(),
      active: z.number().int(),
      pending_invitations: z.number().int(),
      available: z.number().int(),
      override: z.number().int().nullable(),
    }),
    devices: z.object({
      limit: z.number().int(),
      used: z.number().int(),
      available: z.number().int(),
      override: z.number().int().nullable(),
    }),
    managed_by: z.union([
      z.object({ type: z.literal("reseller"), id: z.string(), name: z.string() }),
      z.object({ type: z.literal("direct") }),
    ]),
  })
  .openapi("Limits");

const limits = createRoute({
  method: "get",
  path: "/limits",
  tags,
  security: bearer,
  summary: "Plan, user and device limits and what is used",
  middleware: requires("billing:read"),
  responses: { 200: jsonResponse(LimitsSchema, "Limits"), ...errors(...AUTHED_ERRORS) },
});

const plan = createRoute({
  method: "post",
  path: "/plan",
  tags,
  security: bearer,
  summary: "Change the plan (direct accounts only; never below current use)",
  middleware: requires("billing:write"),
  request: { body: jsonBody(z.strictObject({ plan: z.enum(PLAN_IDS) })) },
  responses: {
    200: jsonResponse(LimitsSchema, "New limits"),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS, "managed_by_reseller", "limit_below_usage"),
  },
});

export const billingRoutes = createRouter()
  .openapi(limits, async (c) => {
    const ctx = authed(c);
    return c.json(await describeLimits(ctx, ctx.principal.accountId), 200);
  })
  .openapi(plan, async (c) => {
    const ctx = authed(c);
    const { account } = ctx.principal;
    const { plan } = c.req.valid("json");
    return c.json(
      await changeOwnPlan(ctx, account.id, account.resellerId, plan, by(ctx.principal)),
      200,
    );
  });

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { listResellerUsage } from "../billing/repo";
import { LimitsSchema } from "../billing/routes";
import { changeCapacity, PLAN_IDS, toLimitsDto } from "../billing/service";
import { accounts } from "../db/schema";
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
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { type ResellerEnv, resellerAuth } from "./auth";

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
    const ctx = c.get("ctx");
    const rows = await listResellerUsage(
      ctx.db,
      c.get("reseller").id,
      ctx.now,
      limit,
      decodeCursor(cursor),
    );
    const pageRows = rows.slice(0, limit);
    return c.json(
      {
        data: pageRows.map((u) => ({ id: u.account_id, name: u.name, limits: toLimitsDto(u) })),
        next_cursor: rows.length > limit ? encodeCursor(pageRows.at(-1)!.account_id) : null,
      },
      200,
    );
  })
  .openapi(update, async (c) => {
    const ctx = c.get("ctx");
    const reseller = c.get("reseller");
    const { id } = c.req.valid("param");
    // Another reseller's account, or a direct one, is simply not there for this reseller.
    const [owned] = await ctx.db
      .select({ id: accounts.id })
      .from(accounts)
      .where(and(eq(accounts.id, id), eq(accounts.resellerId, reseller.id)));
    if (!owned) throw new AppError("not_found", "No such account.");
    return c.json(
      await changeCapacity(ctx, id, c.req.valid("json"), { type: "reseller", id: reseller.id }),
      200,
    );
  });

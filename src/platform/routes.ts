import { createRoute, z } from "@hono/zod-openapi";
import { AccountSchema } from "../accounts/routes";
import { createAccount } from "../accounts/service";
import { PLAN_IDS } from "../billing/plans";
import { LimitsSchema } from "../billing/routes";
import { changeCapacity } from "../billing/service";
import { BODY_ERRORS, bearer, errors, IdParam, jsonBody, jsonResponse } from "../http/openapi";
import { createRouter } from "../http/router";
import { Invitation } from "../invitations/routes";
import { CapacityChangeBody } from "../resellers/routes";
import { createReseller } from "../resellers/service";
import { UserSchema } from "../users/dto";
import { Email, Password } from "../users/schemas";
import { platformAuth } from "./auth";

const tags = ["Platform"];

const createAccountRoute = createRoute({
  method: "post",
  path: "/accounts",
  tags,
  security: bearer,
  summary:
    "Create an account and its first administrator: created at once with admin_password, otherwise invited by email",
  middleware: [platformAuth],
  request: {
    body: jsonBody(
      z.strictObject({
        name: z.string().trim().min(1).max(200),
        plan: z.enum(PLAN_IDS),
        admin_email: Email,
        admin_password: Password.optional(),
        reseller_id: z.string().min(1).max(64).optional(),
      }),
    ),
  },
  responses: {
    201: jsonResponse(
      z.object({
        account: AccountSchema,
        admin: z.union([UserSchema, Invitation]),
        invitation: Invitation.nullable(),
      }),
      "Created; `admin` is the user, or the invitation sent to them",
    ),
    ...errors("unauthorized", ...BODY_ERRORS, "weak_password", "email_taken"),
  },
});

const updateAccount = createRoute({
  method: "patch",
  path: "/accounts/{id}",
  tags,
  security: bearer,
  summary: "Support's capacity adjustment: plan and limit overrides (null clears one)",
  middleware: [platformAuth],
  request: { params: IdParam(), body: jsonBody(CapacityChangeBody) },
  responses: {
    200: jsonResponse(LimitsSchema, "New limits"),
    ...errors("unauthorized", ...BODY_ERRORS, "not_found", "limit_below_usage"),
  },
});

const createResellerRoute = createRoute({
  method: "post",
  path: "/resellers",
  tags,
  security: bearer,
  summary: "Register a reseller; its token is shown once",
  middleware: [platformAuth],
  request: { body: jsonBody(z.strictObject({ name: z.string().trim().min(1).max(200) })) },
  responses: {
    201: jsonResponse(
      z
        .object({ id: z.string(), name: z.string(), token: z.string(), created_at: z.string() })
        .openapi("NewReseller"),
      "Created",
    ),
    ...errors("unauthorized", ...BODY_ERRORS),
  },
});

export const platformRoutes = createRouter()
  .openapi(createAccountRoute, async (c) =>
    c.json(
      await createAccount(c.get("ctx"), c.req.valid("json"), { type: "platform", id: null }),
      201,
    ),
  )
  .openapi(updateAccount, async (c) =>
    c.json(
      await changeCapacity(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"), {
        actor: { type: "platform", id: null },
      }),
      200,
    ),
  )
  .openapi(createResellerRoute, async (c) =>
    c.json(await createReseller(c.get("ctx"), c.req.valid("json").name), 201),
  );

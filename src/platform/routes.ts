import { createRoute, z } from "@hono/zod-openapi";
import { AccountSchema } from "../accounts/routes";
import { createAccount, PLAN_IDS } from "../accounts/service";
import { BODY_ERRORS, bearer, errors, jsonBody, jsonResponse } from "../http/openapi";
import { createRouter } from "../http/router";
import { UserSchema } from "../users/dto";
import { Email, Password } from "../users/schemas";
import { platformAuth } from "./auth";

const tags = ["Platform"];

const createAccountRoute = createRoute({
  method: "post", path: "/accounts", tags, security: bearer,
  summary: "Create an account and its first administrator (created at once with admin_password)",
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
    201: jsonResponse(z.object({ account: AccountSchema, admin: UserSchema }), "Created"),
    ...errors("unauthorized", ...BODY_ERRORS, "weak_password", "email_taken"),
  },
});

export const platformRoutes = createRouter().openapi(createAccountRoute, async (c) =>
  c.json(await createAccount(c.get("ctx"), c.req.valid("json"), { type: "platform", id: null }), 201),
);

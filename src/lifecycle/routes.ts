import { createRoute, z } from "@hono/zod-openapi";
import { authed, requires } from "../http/middleware";
import {
  AUTHED_ERRORS,
  BODY_ERRORS,
  bearer,
  errors,
  IdParam,
  jsonBody,
  jsonResponse,
} from "../http/openapi";
import { createRouter } from "../http/router";
import { toUserDto, UserSchema } from "../users/dto";
import { Email, Password } from "../users/schemas";
import { getUser } from "../users/service";
import { confirmEmailChange } from "./email-change";
import { cancelEmailChange } from "./email-change-cancel";
import { adminReset, forgotPassword, resetPassword } from "./password-reset";

const Token = z.string().min(1).max(200);

const adminResetRoute = createRoute({
  method: "post",
  path: "/{id}/password-reset",
  tags: ["Users"],
  security: bearer,
  summary:
    "Reset a user's password: a temporary password shown once (default), or a mailed one-hour link; sessions end at once",
  middleware: requires("users:reset_password"),
  request: {
    params: IdParam(),
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.strictObject({ method: z.enum(["temporary_password", "email"]).optional() }),
        },
      },
    },
  },
  responses: {
    200: jsonResponse(
      z.object({
        method: z.literal("temporary_password"),
        temporary_password: z.string(),
        must_change_password: z.boolean(),
      }),
      "Temporary password, shown once",
    ),
    202: jsonResponse(
      z.object({ method: z.literal("email"), email_delivery: z.string(), expires_at: z.string() }),
      "Reset link mailed",
    ),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS, "not_found", "permission_not_held"),
  },
});

export const adminResetRoutes = createRouter().openapi(adminResetRoute, async (c) => {
  const ctx = authed(c);
  const { user } = await getUser(ctx, c.req.valid("param").id);
  const body =
    (c.req.valid("json") as { method?: "temporary_password" | "email" } | undefined) ?? {};
  const result = await adminReset(ctx, user, body.method ?? "temporary_password");
  if (result.method === "temporary_password") return c.json(result, 200);
  return c.json(result, 202);
});

const confirm = createRoute({
  method: "post",
  path: "/confirm",
  tags: ["Email verification"],
  summary: "Confirm a new email address with the mailed token",
  request: { body: jsonBody(z.strictObject({ token: Token })) },
  responses: {
    200: jsonResponse(UserSchema, "The user with the new email"),
    ...errors(...BODY_ERRORS, "token_invalid", "token_expired", "email_taken"),
  },
});

const cancel = createRoute({
  method: "post",
  path: "/cancel",
  tags: ["Email verification"],
  summary:
    "Cancel a requested email change with the token mailed to the current address; the verification link stops working",
  request: { body: jsonBody(z.strictObject({ token: Token })) },
  responses: {
    200: jsonResponse(UserSchema, "The user, with no pending email"),
    ...errors(...BODY_ERRORS, "token_invalid", "token_expired"),
  },
});

export const emailVerificationRoutes = createRouter()
  .openapi(confirm, async (c) => {
    const { user, groupIds } = await confirmEmailChange(c.get("ctx"), c.req.valid("json").token);
    return c.json(toUserDto(user, groupIds), 200);
  })
  .openapi(cancel, async (c) => {
    const { user, groupIds } = await cancelEmailChange(c.get("ctx"), c.req.valid("json").token);
    return c.json(toUserDto(user, groupIds), 200);
  });

const forgot = createRoute({
  method: "post",
  path: "/forgot",
  tags: ["Password reset"],
  summary:
    "Mail a one-hour reset link; always 202, whether or not the email exists (403 where Team Login is required)",
  request: { body: jsonBody(z.strictObject({ email: Email })) },
  responses: {
    202: jsonResponse(z.object({ status: z.literal("accepted") }), "Accepted"),
    ...errors(...BODY_ERRORS, "too_many_attempts", "sso_required"),
  },
});

const reset = createRoute({
  method: "post",
  path: "/reset",
  tags: ["Password reset"],
  summary: "Set a new password with the mailed token; every session ends",
  request: { body: jsonBody(z.strictObject({ token: Token, new_password: Password })) },
  responses: {
    204: { description: "Password set" },
    ...errors(...BODY_ERRORS, "token_invalid", "token_expired", "weak_password"),
  },
});

export const passwordRoutes = createRouter()
  .openapi(forgot, async (c) => {
    await forgotPassword(c.get("ctx"), c.req.valid("json").email);
    return c.json({ status: "accepted" as const }, 202);
  })
  .openapi(reset, async (c) => {
    const { token, new_password } = c.req.valid("json");
    await resetPassword(c.get("ctx"), token, new_password);
    return c.body(null, 204);
  });

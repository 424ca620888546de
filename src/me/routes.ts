import { createRoute, z } from "@hono/zod-openapi";
import { authed, authenticate } from "../http/middleware";
import { BODY_ERRORS, bearer, errors, jsonBody, jsonResponse } from "../http/openapi";
import { createRouter } from "../http/router";
import { UserSchema } from "../users/dto";
import { Email, Password, PersonName } from "../users/schemas";
import { changePassword, describeMe, updateMe } from "./service";

const tags = ["Me"];
const Scope = z
  .object({
    device_organization_ids: z.array(z.string()).optional(),
    content_types: z.array(z.string()).optional(),
  })
  .nullable();
const MeSchema = UserSchema.extend({
  groups: z.array(z.object({ id: z.string(), name: z.string() })),
  permissions: z.array(z.object({ permission: z.string(), scope: Scope })),
  account: z.object({ id: z.string(), name: z.string(), plan: z.string() }),
  authenticated_via: z.object({ type: z.string(), id: z.string().nullable() }),
}).openapi("Me");

const get = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "The signed-in user, its groups and effective permissions with scopes",
  middleware: [authenticate],
  responses: { 200: jsonResponse(MeSchema, "Me"), ...errors("unauthorized") },
});

const update = createRoute({
  method: "patch",
  path: "/",
  tags,
  security: bearer,
  summary:
    "Change your own names, or ask for a new email (with your current password; the current address is told and can cancel)",
  middleware: [authenticate],
  request: {
    body: jsonBody(
      z
        .strictObject({
          first_name: PersonName.optional(),
          last_name: PersonName.optional(),
          email: Email.optional(),
          current_password: Password.optional(),
        })
        // Whoever holds a session must also know the password to move the account elsewhere.
        .refine((b) => b.email === undefined || b.current_password !== undefined, {
          path: ["current_password"],
          message: "Required to change the email.",
        }),
    ),
  },
  responses: {
    200: jsonResponse(MeSchema, "Updated; a new email is pending until confirmed"),
    ...errors(
      "unauthorized",
      "forbidden",
      ...BODY_ERRORS,
      "invalid_current_password",
      "too_many_attempts",
      "email_taken",
    ),
  },
});

const password = createRoute({
  method: "post",
  path: "/password",
  tags,
  security: bearer,
  summary: "Change your password; other sessions end",
  middleware: [authenticate],
  request: {
    body: jsonBody(z.strictObject({ current_password: Password, new_password: Password })),
  },
  responses: {
    204: { description: "Changed" },
    ...errors(
      "unauthorized",
      "forbidden",
      ...BODY_ERRORS,
      "weak_password",
      "invalid_current_password",
      "too_many_attempts",
    ),
  },
});

export const meRoutes = createRouter()
  .openapi(get, (c) => c.json(describeMe(authed(c)), 200))
  .openapi(update, async (c) => c.json(await updateMe(authed(c), c.req.valid("json")), 200))
  .openapi(password, async (c) => {
    await changePassword(authed(c), c.req.valid("json"));
    return c.body(null, 204);
  });

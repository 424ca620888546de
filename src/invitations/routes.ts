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
  PageQuery,
  page,
} from "../http/openapi";
import { createRouter } from "../http/router";
import { UserSchema } from "../users/dto";
import { Email, GroupIds, Password, PersonName } from "../users/schemas";
import * as invitations from "./service";

const tags = ["Invitations"];
const Status = z.enum(["pending", "accepted", "revoked", "expired"]);
export const Invitation = z
  .object({
    id: z.string(),
    email: z.string(),
    group_ids: z.array(z.string()),
    status: Status,
    expires_at: z.string(),
    invited_by: z.string().nullable(),
    created_at: z.string(),
    accepted_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    user_id: z.string().nullable(),
    /** The invitation mail: still to be sent (retried), sent, or failed for good. */
    email_delivery: z.enum(["queued", "sent", "failed"]),
  })
  .openapi("Invitation");
const Token = z.string().min(1).max(200);

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  security: bearer,
  summary: "Invite someone by email (uses a seat until accepted, revoked or expired)",
  middleware: requires("users:invite"),
  request: { body: jsonBody(z.strictObject({ email: Email, group_ids: GroupIds.optional() })) },
  responses: {
    201: jsonResponse(Invitation, "Invited; the mail is queued"),
    ...errors(
      ...AUTHED_ERRORS,
      ...BODY_ERRORS,
      "permission_not_held",
      "email_taken",
      "invitation_pending",
      "capacity_exceeded",
      "sso_required",
    ),
  },
});

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "List invitations, optionally by status",
  middleware: requires("users:invite"),
  request: { query: PageQuery.extend({ status: Status.optional() }) },
  responses: {
    200: jsonResponse(page(Invitation), "Invitations"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const get = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "One invitation, with how its mail fared",
  middleware: requires("users:invite"),
  request: { params: IdParam() },
  responses: {
    200: jsonResponse(Invitation, "The invitation"),
    ...errors(...AUTHED_ERRORS, "not_found"),
  },
});

const resend = createRoute({
  method: "post",
  path: "/{id}/resend",
  tags,
  security: bearer,
  summary: "New link and expiry; the old link stops working",
  middleware: requires("users:invite"),
  request: { params: IdParam() },
  responses: {
    200: jsonResponse(Invitation, "Resent; the new mail is queued"),
    ...errors(
      ...AUTHED_ERRORS,
      "not_found",
      "permission_not_held",
      "invitation_not_pending",
      "invitation_pending",
      "email_taken",
      "capacity_exceeded",
    ),
  },
});

const revoke = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Revoke; frees the seat and kills the link",
  middleware: requires("users:invite"),
  request: { params: IdParam() },
  responses: {
    204: { description: "Revoked" },
    ...errors(...AUTHED_ERRORS, "not_found", "invitation_not_pending"),
  },
});

const lookup = createRoute({
  method: "get",
  path: "/lookup",
  tags,
  summary: "What an activation link is for (used by the activation page)",
  request: { query: z.object({ token: Token }) },
  responses: {
    200: jsonResponse(
      z.object({ email: z.string(), account_name: z.string(), expires_at: z.string() }),
      "The invitation",
    ),
    ...errors("validation_failed", "invitation_invalid", "invitation_expired"),
  },
});

const accept = createRoute({
  method: "post",
  path: "/accept",
  tags,
  summary: "Accept: set names and password, and be logged in",
  request: {
    body: jsonBody(
      z.strictObject({
        token: Token,
        first_name: PersonName,
        last_name: PersonName,
        password: Password,
      }),
    ),
  },
  responses: {
    201: jsonResponse(
      z.object({
        access_token: z.string(),
        refresh_token: z.string(),
        token_type: z.literal("Bearer"),
        expires_in: z.number(),
        user: UserSchema,
        must_change_password: z.boolean(),
      }),
      "Accepted and logged in",
    ),
    ...errors(
      ...BODY_ERRORS,
      "invitation_invalid",
      "invitation_expired",
      "weak_password",
      "email_taken",
    ),
  },
});

export const invitationRoutes = createRouter()
  .openapi(lookup, async (c) =>
    c.json(await invitations.lookupInvitation(c.get("ctx"), c.req.valid("query").token), 200),
  )
  .openapi(accept, async (c) =>
    c.json(await invitations.acceptInvitation(c.get("ctx"), c.req.valid("json")), 201),
  )
  .openapi(create, async (c) =>
    c.json(await invitations.createInvitation(authed(c), c.req.valid("json")), 201),
  )
  .openapi(list, async (c) => {
    const q = c.req.valid("query");
    return c.json(await invitations.listInvitations(authed(c), q.status, q.limit, q.cursor), 200);
  })
  .openapi(get, async (c) =>
    c.json(await invitations.getInvitation(authed(c), c.req.valid("param").id), 200),
  )
  .openapi(resend, async (c) =>
    c.json(await invitations.resendInvitation(authed(c), c.req.valid("param").id), 200),
  )
  .openapi(revoke, async (c) => {
    await invitations.revokeInvitation(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

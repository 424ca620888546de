import { createRoute, z } from "@hono/zod-openapi";
import { authed, authenticate, requires } from "../http/middleware";
import {
  AUTHED_ERRORS,
  bearer,
  errors,
  IdParam,
  jsonResponse,
  PageQuery,
  page,
} from "../http/openapi";
import { createRouter } from "../http/router";
import {
  endMyOtherSessions,
  endMySession,
  endUserSessions,
  listMySessions,
  listUserSessions,
} from "./sessions";

const Session = z
  .object({
    id: z.string(),
    created_at: z.string(),
    last_used_at: z.string(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    current: z.boolean().openapi({ description: "Whether this is the caller's own session" }),
  })
  .openapi("Session");

const listMine = createRoute({
  method: "get",
  path: "/",
  tags: ["Me"],
  security: bearer,
  summary: "Your live login sessions, oldest first; `current` marks this one",
  middleware: [authenticate],
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(Session), "Sessions"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const endMine = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["Me"],
  security: bearer,
  summary: "End one of your sessions (this one too); its access token stops working at once",
  middleware: [authenticate],
  request: { params: IdParam() },
  responses: { 204: { description: "Ended" }, ...errors(...AUTHED_ERRORS, "not_found") },
});

const endOthers = createRoute({
  method: "delete",
  path: "/",
  tags: ["Me"],
  security: bearer,
  summary: "End every session of yours but this one",
  middleware: [authenticate],
  responses: { 204: { description: "Ended" }, ...errors(...AUTHED_ERRORS) },
});

/** Mounted at /v1/me/sessions. */
export const mySessionRoutes = createRouter()
  .openapi(listMine, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listMySessions(authed(c), limit, cursor), 200);
  })
  .openapi(endOthers, async (c) => {
    await endMyOtherSessions(authed(c));
    return c.body(null, 204);
  })
  .openapi(endMine, async (c) => {
    await endMySession(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

const listUsers = createRoute({
  method: "get",
  path: "/{id}/sessions",
  tags: ["Users"],
  security: bearer,
  summary: "A user's live login sessions, oldest first",
  middleware: requires("users:write"),
  request: { params: IdParam(), query: PageQuery },
  responses: {
    200: jsonResponse(page(Session), "Sessions"),
    ...errors(...AUTHED_ERRORS, "validation_failed", "not_found", "permission_not_held"),
  },
});

const endUsers = createRoute({
  method: "delete",
  path: "/{id}/sessions",
  tags: ["Users"],
  security: bearer,
  summary: "End every session of a user; their access tokens stop working at once",
  middleware: requires("users:write"),
  request: { params: IdParam() },
  responses: {
    204: { description: "Ended" },
    ...errors(...AUTHED_ERRORS, "not_found", "permission_not_held"),
  },
});

/** Mounted at /v1/users. */
export const userSessionRoutes = createRouter()
  .openapi(listUsers, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listUserSessions(authed(c), c.req.valid("param").id, limit, cursor), 200);
  })
  .openapi(endUsers, async (c) => {
    await endUserSessions(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

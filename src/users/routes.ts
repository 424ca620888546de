import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { authed, requires, requiresReading } from "../http/middleware";
import {
  AUTHED_ERRORS,
  BODY_ERRORS,
  bearer,
  errors,
  IdParam,
  jsonBody,
  jsonResponse,
  page,
} from "../http/openapi";
import { preloadedRead } from "../http/preload";
import { createRouter } from "../http/router";
import { AppError } from "../lib/errors";
import { toUserDto, UserSchema } from "./dto";
import { ImportJson, importUsers, rowsFromCsv } from "./import";
import { CreateUserBody, ListUsersQuery, ReplaceGroupsBody, UpdateUserBody } from "./schemas";
import * as users from "./service";

const tags = ["Users"];

const listPage = preloadedRead("query", ListUsersQuery, (db, accountId, q) =>
  users.usersPage(
    db,
    accountId,
    { q: q.q, groupId: q.group_id, status: q.status },
    q.limit,
    q.cursor,
  ),
);

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "List users; filter by text, group or status",
  middleware: requiresReading(listPage, "users:read"),
  request: { query: ListUsersQuery },
  responses: {
    200: jsonResponse(page(UserSchema), "Users"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  security: bearer,
  summary: "Create a user with a password (active at once; consumes a seat)",
  middleware: requires("users:write"),
  request: { body: jsonBody(CreateUserBody) },
  responses: {
    201: jsonResponse(UserSchema, "Created"),
    ...errors(
      ...AUTHED_ERRORS,
      ...BODY_ERRORS,
      "weak_password",
      "email_taken",
      "capacity_exceeded",
    ),
  },
});

const UserId = IdParam();
const oneUser = preloadedRead("param", UserId, (db, accountId, p) =>
  users.userById(db, accountId, p.id),
);

const get = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Get a user",
  middleware: requiresReading(oneUser, "users:read"),
  request: { params: UserId },
  responses: {
    200: jsonResponse(UserSchema, "The user"),
    ...errors(...AUTHED_ERRORS, "not_found"),
  },
});

const update = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  security: bearer,
  summary:
    "Change names or status, within the caller's authority (disabling ends sessions and API tokens, drops a pending email change and frees the seat)",
  middleware: requires("users:write"),
  request: { params: IdParam(), body: jsonBody(UpdateUserBody) },
  responses: {
    200: jsonResponse(UserSchema, "Updated"),
    ...errors(
      ...AUTHED_ERRORS,
      ...BODY_ERRORS,
      "not_found",
      "last_administrator",
      "capacity_exceeded",
      "email_taken",
      "permission_not_held",
    ),
  },
});

const replaceGroups = createRoute({
  method: "put",
  path: "/{id}/groups",
  tags,
  security: bearer,
  summary: "Replace a user's group memberships; Members is always kept",
  middleware: requires("users:write", "groups:read"),
  request: { params: IdParam(), body: jsonBody(ReplaceGroupsBody) },
  responses: {
    200: jsonResponse(UserSchema, "Updated"),
    ...errors(
      ...AUTHED_ERRORS,
      ...BODY_ERRORS,
      "not_found",
      "last_administrator",
      "permission_not_held",
    ),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Delete a user; sessions and tokens end, the seat is freed, activity is kept",
  middleware: requires("users:write"),
  request: { params: IdParam() },
  responses: {
    204: { description: "Deleted" },
    ...errors(...AUTHED_ERRORS, "not_found", "last_administrator"),
  },
});

const IMPORT_BODY_LIMIT = 1024 * 1024;
const importBodyLimit = bodyLimit({
  maxSize: IMPORT_BODY_LIMIT,
  onError: () => {
    throw new AppError("payload_too_large", `Imports are limited to ${IMPORT_BODY_LIMIT} bytes.`);
  },
});

const importRoute = createRoute({
  method: "post",
  path: "/import",
  tags,
  security: bearer,
  summary:
    "Bulk import: CSV with a header row, or JSON {rows}; each row invites (default) or creates; per-row results",
  middleware: [...requires("users:write"), importBodyLimit],
  request: {
    body: {
      required: false,
      content: {
        "application/json": { schema: ImportJson },
        "text/csv": {
          schema: z.string().openapi({
            example: "email,first_name,last_name,group_ids,action\nana@example.com,Ana,Lee,,invite",
          }),
        },
      },
    },
  },
  responses: {
    200: jsonResponse(
      z
        .object({
          summary: z.object({
            total: z.number().int(),
            created: z.number().int(),
            invited: z.number().int(),
            failed: z.number().int(),
          }),
          results: z.array(
            z.object({
              row: z.number().int(),
              status: z.enum(["invited", "created", "failed"]),
              code: z.string().optional(),
              detail: z.string().optional(),
              id: z.string().optional(),
              email: z.string().optional(),
            }),
          ),
        })
        .openapi("ImportResult"),
      "Per-row results",
    ),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS),
  },
});

export const userRoutes = createRouter()
  .openapi(importRoute, async (c) => {
    const type = c.req.header("content-type") ?? "";
    if (/^text\/csv\b/i.test(type))
      return c.json(await importUsers(authed(c), rowsFromCsv(await c.req.text())), 200);
    // Without a content type the body is not validated at all, so `rows` may be missing.
    const json = c.req.valid("json") as { rows?: Record<string, unknown>[] } | undefined;
    if (!json?.rows)
      throw new AppError(
        "validation_failed",
        "Send text/csv with a header row, or JSON {rows: [...]}.",
        { errors: [{ path: "body", code: "invalid_type", message: "Required." }] },
      );
    const rows = json.rows;
    return c.json(await importUsers(authed(c), rows), 200);
  })
  .openapi(list, async (c) => c.json(await listPage.result(c, c.req.valid("query")), 200))
  .openapi(create, async (c) => {
    const { user, groupIds } = await users.createUser(authed(c), c.req.valid("json"));
    return c.json(toUserDto(user, groupIds), 201);
  })
  .openapi(get, async (c) => {
    const { user, groupIds } = await oneUser.result(c, c.req.valid("param"));
    return c.json(toUserDto(user, groupIds), 200);
  })
  .openapi(update, async (c) => {
    const { user, groupIds } = await users.updateUser(
      authed(c),
      c.req.valid("param").id,
      c.req.valid("json"),
    );
    return c.json(toUserDto(user, groupIds), 200);
  })
  .openapi(replaceGroups, async (c) => {
    const { user, groupIds } = await users.replaceGroups(
      authed(c),
      c.req.valid("param").id,
      c.req.valid("json").group_ids,
    );
    return c.json(toUserDto(user, groupIds), 200);
  })
  .openapi(remove, async (c) => {
    await users.deleteUser(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

import { createRoute } from "@hono/zod-openapi";
import { authed, requires, requiresReading } from "../http/middleware";
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
import { preloadedRead } from "../http/preload";
import { createRouter } from "../http/router";
import { CreateGroupBody, GroupSchema, UpdateGroupBody } from "./schemas";
import * as groups from "./service";

const tags = ["Groups"];

const listPage = preloadedRead("query", PageQuery, (db, accountId, q) =>
  groups.groupsPage(db, accountId, q.limit, q.cursor),
);

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "List groups with member counts",
  middleware: requiresReading(listPage, "groups:read"),
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(GroupSchema), "Groups"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  security: bearer,
  summary: "Create a group with grants",
  middleware: requires("groups:write"),
  request: { body: jsonBody(CreateGroupBody) },
  responses: {
    201: jsonResponse(GroupSchema, "Created"),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS, "group_name_taken", "permission_not_held"),
  },
});

const GroupId = IdParam();
const oneGroup = preloadedRead("param", GroupId, (db, accountId, p) =>
  groups.groupById(db, accountId, p.id),
);

const get = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Get a group",
  middleware: requiresReading(oneGroup, "groups:read"),
  request: { params: GroupId },
  responses: {
    200: jsonResponse(GroupSchema, "The group"),
    ...errors(...AUTHED_ERRORS, "not_found"),
  },
});

const update = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  security: bearer,
  summary:
    "Rename, describe or replace the grants of a group (the caller must hold every grant it has and gets)",
  middleware: requires("groups:write"),
  request: { params: IdParam(), body: jsonBody(UpdateGroupBody) },
  responses: {
    200: jsonResponse(GroupSchema, "Updated"),
    ...errors(
      ...AUTHED_ERRORS,
      ...BODY_ERRORS,
      "not_found",
      "group_builtin",
      "group_name_taken",
      "permission_not_held",
    ),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Delete a group; members left in no group join Members",
  middleware: requires("groups:write"),
  request: { params: IdParam() },
  responses: {
    204: { description: "Deleted" },
    ...errors(...AUTHED_ERRORS, "not_found", "group_builtin", "permission_not_held"),
  },
});

export const groupRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listPage.result(c, c.req.valid("query")), 200))
  .openapi(create, async (c) =>
    c.json(groups.toGroupDto(await groups.createGroup(authed(c), c.req.valid("json"))), 201),
  )
  .openapi(get, async (c) =>
    c.json(groups.toGroupDto(await oneGroup.result(c, c.req.valid("param"))), 200),
  )
  .openapi(update, async (c) =>
    c.json(
      groups.toGroupDto(
        await groups.updateGroup(authed(c), c.req.valid("param").id, c.req.valid("json")),
      ),
      200,
    ),
  )
  .openapi(remove, async (c) => {
    await groups.deleteGroup(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

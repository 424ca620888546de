/**
 * SCIM 2.0 at /scim/v2 (RFC 7643/7644) for identity providers such as Okta and Microsoft
 * Entra. Every route needs a SCIM token of an account whose plan has SCIM; answers and
 * errors are `application/scim+json`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../http/router";
import { AppError } from "../lib/errors";
import { scimAuth, scimCtx } from "./auth";
import { resourceTypes, schemas, serviceProviderConfig } from "./discovery";
import { SCIM_CONTENT_TYPE } from "./errors";
import * as groups from "./groups";
import { LIST_SCHEMA, paging, scimBase } from "./resources";
import {
  GroupQuery,
  ListQuery,
  listOf,
  SCIM_AUTH_ERRORS,
  SCIM_BODY_ERRORS,
  ScimGroup,
  ScimGroupInput,
  ScimId,
  ScimPatch,
  ScimUser,
  ScimUserInput,
  scimBody,
  scimErrors,
  scimResponse,
  scimSecurity,
} from "./schemas";
import * as users from "./users";

const tags = ["SCIM"];
const middleware = scimAuth;
const security = scimSecurity;

/** SCIM answers are `application/scim+json` (c.json keeps a content type it is given). */
const scimHeaders = (location?: string): Record<string, string> => ({
  "content-type": SCIM_CONTENT_TYPE,
  ...(location ? { location } : {}),
});

/** Members are left out when asked (Entra and Okta do, to keep big groups cheap). */
const wantsMembers = (q: { attributes?: string; excludedAttributes?: string }) => {
  const listed = (s?: string) => (s ?? "").split(",").map((a) => a.trim().toLowerCase());
  if (listed(q.excludedAttributes).includes("members")) return false;
  return q.attributes === undefined || listed(q.attributes).includes("members");
};

const Discovery = z.looseObject({ schemas: z.array(z.string()) });
const DiscoveryList = listOf(Discovery, "ScimDiscoveryList");

const route = <R extends Parameters<typeof createRoute>[0]>(r: R) =>
  createRoute({ tags, security, middleware, ...r });

const config = route({
  method: "get",
  path: "/ServiceProviderConfig",
  summary: "What this SCIM server supports",
  responses: {
    200: scimResponse(Discovery, "The service provider configuration"),
    ...scimErrors(...SCIM_AUTH_ERRORS),
  },
});

const listResourceTypes = route({
  method: "get",
  path: "/ResourceTypes",
  summary: "The resource types: User and Group",
  responses: {
    200: scimResponse(DiscoveryList, "Resource types"),
    ...scimErrors(...SCIM_AUTH_ERRORS),
  },
});

const getResourceType = route({
  method: "get",
  path: "/ResourceTypes/{id}",
  summary: "One resource type",
  request: { params: ScimId },
  responses: {
    200: scimResponse(Discovery, "The resource type"),
    ...scimErrors(...SCIM_AUTH_ERRORS, "not_found"),
  },
});

const listSchemas = route({
  method: "get",
  path: "/Schemas",
  summary: "The schemas and the attributes this server reads and writes",
  responses: {
    200: scimResponse(DiscoveryList, "Schemas"),
    ...scimErrors(...SCIM_AUTH_ERRORS),
  },
});

const getSchema = route({
  method: "get",
  path: "/Schemas/{id}",
  summary: "One schema",
  request: { params: ScimId },
  responses: {
    200: scimResponse(Discovery, "The schema"),
    ...scimErrors(...SCIM_AUTH_ERRORS, "not_found"),
  },
});

const listUsers = route({
  method: "get",
  path: "/Users",
  summary:
    'List or find users (filters: userName eq, externalId eq, emails[type eq "work"].value eq)',
  request: { query: ListQuery },
  responses: {
    200: scimResponse(listOf(ScimUser, "ScimUserList"), "Users"),
    ...scimErrors(...SCIM_AUTH_ERRORS, "invalid_filter", "invalid_value", "validation_failed"),
  },
});

const createUser = route({
  method: "post",
  path: "/Users",
  summary: "Provision a user (no password; in Members; active users take a seat)",
  request: { body: scimBody(ScimUserInput) },
  responses: {
    201: scimResponse(ScimUser, "Created"),
    ...scimErrors(...SCIM_AUTH_ERRORS, ...SCIM_BODY_ERRORS, "email_taken", "capacity_exceeded"),
  },
});

const getUser = route({
  method: "get",
  path: "/Users/{id}",
  summary: "Get a user",
  request: { params: ScimId },
  responses: {
    200: scimResponse(ScimUser, "The user"),
    ...scimErrors(...SCIM_AUTH_ERRORS, "not_found"),
  },
});

const USER_CHANGE_ERRORS = [
  ...SCIM_AUTH_ERRORS,
  ...SCIM_BODY_ERRORS,
  "not_found",
  "email_taken",
  "capacity_exceeded",
  "last_administrator",
] as const;

const replaceUser = route({
  method: "put",
  path: "/Users/{id}",
  summary: "Replace a user (active:false disables and frees the seat; active:true takes one)",
  request: { params: ScimId, body: scimBody(ScimUserInput) },
  responses: {
    200: scimResponse(ScimUser, "The user"),
    ...scimErrors(...USER_CHANGE_ERRORS),
  },
});

const patchUser = route({
  method: "patch",
  path: "/Users/{id}",
  summary: "Change a user with PATCH operations",
  request: { params: ScimId, body: scimBody(ScimPatch) },
  responses: {
    200: scimResponse(ScimUser, "The user"),
    ...scimErrors(...USER_CHANGE_ERRORS, "invalid_path"),
  },
});

const deleteUser = route({
  method: "delete",
  path: "/Users/{id}",
  summary: "Delete a user, like DELETE /v1/users/{id}",
  request: { params: ScimId },
  responses: {
    204: { description: "Deleted" },
    ...scimErrors(...SCIM_AUTH_ERRORS, "not_found", "last_administrator"),
  },
});

const listGroups = route({
  method: "get",
  path: "/Groups",
  summary: "List or find the groups created over SCIM (filters: displayName eq, externalId eq)",
  request: { query: ListQuery },
  responses: {
    200: scimResponse(listOf(ScimGroup, "ScimGroupList"), "Groups"),
    ...scimErrors(...SCIM_AUTH_ERRORS, "invalid_filter", "invalid_value", "validation_failed"),
  },
});

const createGroup = route({
  method: "post",
  path: "/Groups",
  summary: "Create a group, without grants",
  request: { body: scimBody(ScimGroupInput) },
  responses: {
    201: scimResponse(ScimGroup, "Created"),
    ...scimErrors(...SCIM_AUTH_ERRORS, ...SCIM_BODY_ERRORS, "group_name_taken"),
  },
});

const getGroup = route({
  method: "get",
  path: "/Groups/{id}",
  summary: "Get a group created over SCIM",
  request: { params: ScimId, query: GroupQuery },
  responses: {
    200: scimResponse(ScimGroup, "The group"),
    ...scimErrors(...SCIM_AUTH_ERRORS, "not_found", "validation_failed"),
  },
});

const replaceGroup = route({
  method: "put",
  path: "/Groups/{id}",
  summary: "Replace a group's name, external id and members",
  request: { params: ScimId, body: scimBody(ScimGroupInput) },
  responses: {
    200: scimResponse(ScimGroup, "The group"),
    ...scimErrors(...SCIM_AUTH_ERRORS, ...SCIM_BODY_ERRORS, "not_found", "group_name_taken"),
  },
});

const patchGroup = route({
  method: "patch",
  path: "/Groups/{id}",
  summary: "Rename a group or change its members with PATCH operations",
  request: { params: ScimId, body: scimBody(ScimPatch) },
  responses: {
    204: { description: "Changed" },
    ...scimErrors(
      ...SCIM_AUTH_ERRORS,
      ...SCIM_BODY_ERRORS,
      "not_found",
      "group_name_taken",
      "invalid_path",
    ),
  },
});

const deleteGroup = route({
  method: "delete",
  path: "/Groups/{id}",
  summary: "Delete a group created over SCIM (its members stay in Members)",
  request: { params: ScimId },
  responses: {
    204: { description: "Deleted" },
    ...scimErrors(...SCIM_AUTH_ERRORS, "not_found"),
  },
});

const notAllowed = () => {
  throw new AppError("method_not_allowed", "This SCIM endpoint does not take this method.");
};

const listOfAll = <T>(all: T[]) => ({
  schemas: [LIST_SCHEMA],
  totalResults: all.length,
  itemsPerPage: all.length,
  startIndex: 1,
  Resources: all,
});

const notFound = (what: string) => {
  throw new AppError("not_found", `No such ${what}.`);
};

const ok = scimHeaders();

export const scimRoutes = createRouter()
  .openapi(config, (c) => c.json(serviceProviderConfig(scimBase(scimCtx(c))), 200, ok))
  .openapi(listResourceTypes, (c) =>
    c.json(listOfAll(resourceTypes(scimBase(scimCtx(c)))), 200, ok),
  )
  .openapi(getResourceType, (c) => {
    const id = c.req.valid("param").id;
    const found = resourceTypes(scimBase(scimCtx(c))).find((r) => r.id === id);
    return found ? c.json(found, 200, ok) : notFound("resource type");
  })
  .openapi(listSchemas, (c) => c.json(listOfAll(schemas(scimBase(scimCtx(c)))), 200, ok))
  .openapi(getSchema, (c) => {
    const id = c.req.valid("param").id;
    const found = schemas(scimBase(scimCtx(c))).find((s) => s.id === id);
    return found ? c.json(found, 200, ok) : notFound("schema");
  })
  .openapi(listUsers, async (c) => {
    const q = c.req.valid("query");
    return c.json(await users.listScimUsers(scimCtx(c), q.filter, paging(q)), 200, ok);
  })
  .openapi(createUser, async (c) => {
    const created = await users.createScimUser(scimCtx(c), c.req.valid("json"));
    return c.json(created, 201, scimHeaders(created.meta.location));
  })
  .openapi(getUser, async (c) =>
    c.json(await users.getScimUser(scimCtx(c), c.req.valid("param").id), 200, ok),
  )
  .openapi(replaceUser, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await users.replaceScimUser(scimCtx(c), id, c.req.valid("json")), 200, ok);
  })
  .openapi(patchUser, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await users.patchScimUser(scimCtx(c), id, c.req.valid("json")), 200, ok);
  })
  .openapi(deleteUser, async (c) => {
    await users.deleteScimUser(scimCtx(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(listGroups, async (c) => {
    const q = c.req.valid("query");
    const found = await groups.listScimGroups(scimCtx(c), q.filter, paging(q), wantsMembers(q));
    return c.json(found, 200, ok);
  })
  .openapi(createGroup, async (c) => {
    const created = await groups.createScimGroup(scimCtx(c), c.req.valid("json"));
    return c.json(created, 201, scimHeaders(created.meta.location));
  })
  .openapi(getGroup, async (c) => {
    const { id } = c.req.valid("param");
    const found = await groups.getScimGroup(scimCtx(c), id, wantsMembers(c.req.valid("query")));
    return c.json(found, 200, ok);
  })
  .openapi(replaceGroup, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await groups.replaceScimGroup(scimCtx(c), id, c.req.valid("json")), 200, ok);
  })
  .openapi(patchGroup, async (c) => {
    await groups.patchScimGroup(scimCtx(c), c.req.valid("param").id, c.req.valid("json"));
    return c.body(null, 204);
  })
  .openapi(deleteGroup, async (c) => {
    await groups.deleteScimGroup(scimCtx(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

// The resources exist; other methods on them are 405, after the token is checked.
for (const path of [
  "/ServiceProviderConfig",
  "/ResourceTypes",
  "/ResourceTypes/:id",
  "/Schemas",
  "/Schemas/:id",
  "/Users",
  "/Users/:id",
  "/Groups",
  "/Groups/:id",
]) {
  scimRoutes.all(path, scimAuth, notAllowed);
}

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
import * as devices from "./service";

const tags = ["Devices"];
const Organization = z
  .object({ id: z.string(), name: z.string(), created_at: z.string() })
  .openapi("DeviceOrganization");
const Device = z
  .object({
    id: z.string(),
    name: z.string(),
    device_organization_id: z.string(),
    status: z.string(),
    created_via: z.enum(["provisioned", "paired"]),
    created_at: z.string(),
  })
  .openapi("Device");

const listOrgs = createRoute({
  method: "get",
  path: "/device-organizations",
  tags,
  security: bearer,
  summary: "Device organizations in the caller's scope",
  middleware: requires("devices:read"),
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(Organization), "Organizations"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const createOrg = createRoute({
  method: "post",
  path: "/device-organizations",
  tags,
  security: bearer,
  summary: "Create a device organization (needs an unscoped devices:write)",
  middleware: requires("devices:write"),
  request: { body: jsonBody(z.strictObject({ name: z.string().trim().min(1).max(200) })) },
  responses: {
    201: jsonResponse(Organization, "Created"),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS),
  },
});

const list = createRoute({
  method: "get",
  path: "/devices",
  tags,
  security: bearer,
  summary: "Devices in the caller's scope",
  middleware: requires("devices:read"),
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(Device), "Devices"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const provision = createRoute({
  method: "post",
  path: "/devices",
  tags,
  security: bearer,
  summary: "Provision a device in an organization (uses a device slot)",
  middleware: requires("devices:write"),
  request: {
    body: jsonBody(
      z.strictObject({
        name: z.string().trim().min(1).max(200),
        device_organization_id: z.string().min(1).max(64),
      }),
    ),
  },
  responses: {
    201: jsonResponse(Device, "Provisioned"),
    ...errors(...AUTHED_ERRORS, ...BODY_ERRORS, "not_found", "capacity_exceeded"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/devices/{id}",
  tags,
  security: bearer,
  summary: "Remove a device; frees its slot",
  middleware: requires("devices:write"),
  request: { params: IdParam() },
  responses: { 204: { description: "Removed" }, ...errors(...AUTHED_ERRORS, "not_found") },
});

const pairingCode = createRoute({
  method: "post",
  path: "/device-pairings/code",
  tags,
  summary: "A device asks for a pairing code to show (valid ten minutes)",
  responses: {
    201: jsonResponse(
      z
        .object({ pairing_code: z.string(), device_secret: z.string(), expires_at: z.string() })
        .openapi("PairingCode"),
      "A code to show",
    ),
  },
});

const claim = createRoute({
  method: "post",
  path: "/device-pairings",
  tags,
  security: bearer,
  summary: "Claim a device by the code it shows (uses a device slot)",
  middleware: requires("devices:write"),
  request: {
    body: jsonBody(
      z.strictObject({
        pairing_code: z.string().min(4).max(20),
        name: z.string().trim().min(1).max(200),
        device_organization_id: z.string().min(1).max(64),
      }),
    ),
  },
  responses: {
    201: jsonResponse(Device, "Paired"),
    ...errors(
      ...AUTHED_ERRORS,
      ...BODY_ERRORS,
      "not_found",
      "pairing_code_invalid",
      "capacity_exceeded",
    ),
  },
});

export const deviceRoutes = createRouter()
  .openapi(pairingCode, async (c) => c.json(await devices.startPairing(c.get("ctx")), 201))
  .openapi(claim, async (c) => {
    const { pairing_code, ...input } = c.req.valid("json");
    return c.json(
      await devices.provisionDevice(authed(c), input, {
        code: devices.normalizePairingCode(pairing_code),
      }),
      201,
    );
  })
  .openapi(listOrgs, async (c) => {
    const q = c.req.valid("query");
    return c.json(await devices.listOrganizations(authed(c), q.limit, q.cursor), 200);
  })
  .openapi(createOrg, async (c) =>
    c.json(await devices.createOrganization(authed(c), c.req.valid("json").name), 201),
  )
  .openapi(list, async (c) => {
    const q = c.req.valid("query");
    return c.json(await devices.listDevices(authed(c), q.limit, q.cursor), 200);
  })
  .openapi(provision, async (c) =>
    c.json(await devices.provisionDevice(authed(c), c.req.valid("json")), 201),
  )
  .openapi(remove, async (c) => {
    await devices.removeDevice(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  });

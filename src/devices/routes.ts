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
const DeviceAuthHeader = z.object({
  authorization: z.string().max(200).openapi({ description: "Device <device_id>.<secret>" }),
});
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
  summary:
    "A device asks for a pairing code to show (valid ten minutes); with its current credentials, to be paired again",
  request: { headers: DeviceAuthHeader.partial() },
  responses: {
    201: jsonResponse(
      z
        .object({
          pairing_code: z.string(),
          device_id: z.string(),
          device_secret: z.string(),
          expires_at: z.string(),
        })
        .openapi("PairingCode"),
      "A code to show; the device keeps its id and secret",
    ),
    ...errors("unauthorized", "not_found", "too_many_attempts"),
  },
});

const self = createRoute({
  method: "get",
  path: "/devices/self",
  tags,
  summary: "A paired device reads its own record, with Authorization: Device <device_id>.<secret>",
  request: { headers: DeviceAuthHeader.partial() },
  responses: {
    200: jsonResponse(Device, "The device"),
    ...errors("unauthorized", "not_found"),
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
  .openapi(pairingCode, async (c) => {
    const credentials = c.req.header("authorization");
    return c.json(await devices.startPairing(c.get("ctx"), credentials), 201);
  })
  .openapi(self, async (c) => {
    const credentials = c.req.header("authorization") ?? "";
    return c.json(
      devices.toDeviceDto(await devices.authenticateDevice(c.get("ctx"), credentials)),
      200,
    );
  })
  .openapi(claim, async (c) => {
    const { pairing_code, ...input } = c.req.valid("json");
    const code = devices.normalizePairingCode(pairing_code);
    return c.json(await devices.provisionDevice(authed(c), input, code), 201);
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

import { createRoute, z } from "@hono/zod-openapi";
import { authed, requires, requiresFeature } from "../http/middleware";
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
import * as webhooks from "./service";

const tags = ["Webhooks"];
const EventName = z.union([z.enum(webhooks.SUBSCRIBABLE), z.literal("*")]);
const Endpoint = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    status: z.enum(["enabled", "disabled"]),
    disabled_reason: z.string().nullable(),
    disabled_at: z.string().nullable(),
    paused: z.boolean().openapi({
      description: "True while the account's plan lacks webhooks: nothing is delivered",
    }),
    paused_reason: z.enum(["feature_not_in_plan"]).nullable(),
    consecutive_failures: z.number().int(),
    previous_secret_expires_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("WebhookEndpoint");
const WithSecret = Endpoint.extend({ secret: z.string() }).openapi("WebhookEndpointWithSecret");
const Url = z.string().min(1).max(2000);

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  security: bearer,
  summary: "List webhook endpoints; on a plan without webhooks they are kept and listed as paused",
  // Readable without the feature, so an account that moved to a smaller plan can see
  // what it has and that it is paused; every other webhook route needs the feature.
  middleware: requires("webhooks:manage"),
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(page(Endpoint), "Endpoints"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  security: bearer,
  summary: "Add an endpoint; the whsec_ secret is shown once",
  middleware: requiresFeature("webhooks", "webhooks:manage"),
  request: {
    body: jsonBody(
      z.strictObject({
        url: Url,
        events: z.array(EventName).min(1).max(100),
        description: z.string().max(500).nullable().optional(),
      }),
    ),
  },
  responses: {
    201: jsonResponse(WithSecret, "Created"),
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", ...BODY_ERRORS),
  },
});

const update = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Change the URL, events or description; enable or disable",
  middleware: requiresFeature("webhooks", "webhooks:manage"),
  request: {
    params: IdParam(),
    body: jsonBody(
      z.strictObject({
        url: Url.optional(),
        events: z.array(EventName).min(1).max(100).optional(),
        description: z.string().max(500).nullable().optional(),
        status: z.enum(["enabled", "disabled"]).optional(),
      }),
    ),
  },
  responses: {
    200: jsonResponse(Endpoint, "Updated"),
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", ...BODY_ERRORS, "not_found"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  security: bearer,
  summary: "Remove an endpoint and its delivery log",
  middleware: requiresFeature("webhooks", "webhooks:manage"),
  request: { params: IdParam() },
  responses: {
    204: { description: "Removed" },
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", "not_found"),
  },
});

const rotate = createRoute({
  method: "post",
  path: "/{id}/rotate-secret",
  tags,
  security: bearer,
  summary: "New secret; the old one keeps signing for 24 hours",
  middleware: requiresFeature("webhooks", "webhooks:manage"),
  request: { params: IdParam() },
  responses: {
    200: jsonResponse(WithSecret, "Rotated; the new secret is shown once"),
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", "not_found"),
  },
});

const deliveries = createRoute({
  method: "get",
  path: "/{id}/deliveries",
  tags,
  security: bearer,
  summary: "Deliveries, newest first: attempts, status codes, next retry",
  middleware: requiresFeature("webhooks", "webhooks:manage"),
  request: { params: IdParam(), query: PageQuery },
  responses: {
    200: jsonResponse(
      page(
        z
          .object({
            id: z.string(),
            event_id: z.string(),
            event_type: z.string(),
            status: z.enum(["pending", "succeeded", "failed"]),
            attempts: z.number().int(),
            max_attempts: z.number().int(),
            last_status_code: z.number().int().nullable(),
            last_error: z.string().nullable(),
            next_attempt_at: z.string().nullable(),
            created_at: z.string(),
            log: z.array(
              z.object({
                attempt: z.number().int(),
                at: z.string(),
                status_code: z.number().int().nullable(),
                error: z.string().nullable(),
                duration_ms: z.number().int(),
              }),
            ),
          })
          .openapi("WebhookDelivery"),
      ),
      "Deliveries",
    ),
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", "validation_failed", "not_found"),
  },
});

const test = createRoute({
  method: "post",
  path: "/{id}/test",
  tags,
  security: bearer,
  summary: "Send a webhook.test event now and report the answer",
  middleware: requiresFeature("webhooks", "webhooks:manage"),
  request: { params: IdParam() },
  responses: {
    200: jsonResponse(
      z.object({
        delivery_id: z.string(),
        event_id: z.string(),
        success: z.boolean(),
        status_code: z.number().int().nullable(),
        error: z.string().nullable(),
      }),
      "Result",
    ),
    ...errors(...AUTHED_ERRORS, "feature_not_in_plan", "not_found", "validation_failed"),
  },
});

export const webhookRoutes = createRouter()
  .openapi(list, async (c) => {
    const q = c.req.valid("query");
    return c.json(await webhooks.listEndpoints(authed(c), q.limit, q.cursor), 200);
  })
  .openapi(create, async (c) =>
    c.json(await webhooks.createEndpoint(authed(c), c.req.valid("json")), 201),
  )
  .openapi(update, async (c) =>
    c.json(
      await webhooks.updateEndpoint(authed(c), c.req.valid("param").id, c.req.valid("json")),
      200,
    ),
  )
  .openapi(remove, async (c) => {
    await webhooks.deleteEndpoint(authed(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(rotate, async (c) =>
    c.json(await webhooks.rotateSecret(authed(c), c.req.valid("param").id), 200),
  )
  .openapi(deliveries, async (c) => {
    const q = c.req.valid("query");
    return c.json(
      await webhooks.listDeliveries(authed(c), c.req.valid("param").id, q.limit, q.cursor),
      200,
    );
  })
  .openapi(test, async (c) =>
    c.json(await webhooks.sendTest(authed(c), c.req.valid("param").id), 200),
  );

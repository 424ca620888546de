import { createRoute, z } from "@hono/zod-openapi";
import { authed, requires } from "../http/middleware";
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
import { UserSchema } from "../users/dto";
import type { ActivityFilter } from "./repo";
import { exportActivity, inactiveUsersReport, listActivity, userActivity } from "./service";

const tags = ["Activity"];

const EventSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    occurred_at: z.string(),
    account_id: z.string(),
    actor: z.object({ type: z.string(), id: z.string().nullable() }),
    subject: z.object({ type: z.string(), id: z.string().nullable() }).nullable(),
    method: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
  })
  .openapi("ActivityEvent");

const Range = z.object({
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});
const Filters = Range.extend({
  type: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[a-z_.]+\*?$/, "An event type, or a prefix ending in *")
    .optional(),
  method: z.enum(["password", "sso", "api_token", "scim"]).optional(),
  ip: z.string().min(1).max(64).optional(),
});

function toFilter(q: z.infer<typeof Filters> & { user_id?: string }): ActivityFilter {
  return {
    userId: q.user_id,
    type: q.type,
    method: q.method,
    ip: q.ip,
    since: q.since ? Date.parse(q.since) : undefined,
    until: q.until ? Date.parse(q.until) : undefined,
  };
}

const list = createRoute({
  method: "get",
  path: "/activity",
  tags,
  security: bearer,
  summary: "The account's activity, newest first, with filters",
  middleware: requires("activity:read"),
  request: {
    query: PageQuery.merge(Filters).extend({ user_id: z.string().min(1).max(64).optional() }),
  },
  responses: {
    200: jsonResponse(page(EventSchema), "Events"),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const exportRoute = createRoute({
  method: "get",
  path: "/activity/export",
  tags,
  security: bearer,
  summary: "Export a whole range as CSV or NDJSON, streamed",
  middleware: requires("activity:read"),
  request: {
    query: Filters.extend({
      format: z.enum(["csv", "ndjson"]).default("ndjson"),
      user_id: z.string().min(1).max(64).optional(),
    }),
  },
  responses: {
    200: {
      description: "The events, newest first",
      content: {
        "text/csv": { schema: z.string() },
        "application/x-ndjson": { schema: z.string() },
      },
    },
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

const forUser = createRoute({
  method: "get",
  path: "/users/{id}/activity",
  tags,
  security: bearer,
  summary: "A user's events (as actor or subject), newest first",
  middleware: requires("activity:read"),
  request: { params: IdParam(), query: PageQuery.merge(Filters) },
  responses: {
    200: jsonResponse(page(EventSchema), "Events"),
    ...errors(...AUTHED_ERRORS, "validation_failed", "not_found"),
  },
});

const inactive = createRoute({
  method: "get",
  path: "/reports/inactive-users",
  tags,
  security: bearer,
  summary: "Active users who never logged in, or not in the last N days",
  middleware: requires("activity:read"),
  request: {
    query: PageQuery.extend({ days: z.coerce.number().int().min(1).max(3650).default(90) }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        days: z.number().int(),
        data: z.array(UserSchema.extend({ never_logged_in: z.boolean() })),
        next_cursor: z.string().nullable(),
      }),
      "Inactive users",
    ),
    ...errors(...AUTHED_ERRORS, "validation_failed"),
  },
});

export const activityRoutes = createRouter()
  .openapi(list, async (c) => {
    const q = c.req.valid("query");
    return c.json(await listActivity(authed(c), toFilter(q), q.limit, q.cursor), 200);
  })
  .openapi(exportRoute, (c) => {
    const q = c.req.valid("query");
    const stamp = new Date(c.get("ctx").now).toISOString().slice(0, 10);
    const type = q.format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson";
    return c.body(exportActivity(authed(c), q.format, toFilter(q)), 200, {
      "content-type": type,
      "content-disposition": `attachment; filename="activity-${stamp}.${q.format}"`,
      "cache-control": "no-store",
    });
  })
  .openapi(forUser, async (c) => {
    const q = c.req.valid("query");
    return c.json(
      await userActivity(authed(c), c.req.valid("param").id, toFilter(q), q.limit, q.cursor),
      200,
    );
  })
  .openapi(inactive, async (c) => {
    const q = c.req.valid("query");
    return c.json(await inactiveUsersReport(authed(c), q.days, q.limit, q.cursor), 200);
  });

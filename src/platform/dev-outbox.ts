/** `GET /v1/dev/outbox`: mail kept in development when no Postmark token is set; 404 in production. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearer, errors, jsonResponse } from "../http/openapi";
import { createRouter } from "../http/router";
import { AppError } from "../lib/errors";
import { readOutbox } from "../mail/send";
import { platformAuth } from "./auth";

const outbox = createRoute({
  method: "get",
  path: "/outbox",
  tags: ["Development"],
  security: bearer,
  summary: "Development only: mail that would have been sent, newest first",
  middleware: [platformAuth],
  request: {
    query: z.object({
      to: z.string().max(254).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        data: z.array(
          z.object({
            id: z.string(),
            to: z.string(),
            subject: z.string(),
            text: z.string(),
            html: z.string(),
            tag: z.string(),
            sent_at: z.string(),
          }),
        ),
      }),
      "Mail",
    ),
    ...errors("unauthorized", "not_found"),
  },
});

export const devRoutes = createRouter().openapi(outbox, async (c) => {
  if (!c.get("ctx").config.development) throw new AppError("not_found", "No such route.");
  const { to, limit } = c.req.valid("query");
  return c.json(
    {
      data: (await readOutbox(c.env, to, limit)) as {
        id: string;
        to: string;
        subject: string;
        text: string;
        html: string;
        tag: string;
        sent_at: string;
      }[],
    },
    200,
  );
});

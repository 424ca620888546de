/** Shared pieces of route definitions: the problem schema, error responses, JSON bodies, pagination. */
import { z } from "@hono/zod-openapi";
import { ERRORS, type ErrorCode } from "../lib/errors";

const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    errors: z
      .array(z.object({ path: z.string(), code: z.string(), message: z.string() }))
      .optional(),
    request_id: z.string().optional(),
  })
  .openapi("Problem");

/** Documents the error answers a route can give, by catalogue code. */
export function errors(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERRORS[code][0];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description: list.join(", "),
        content: { "application/problem+json": { schema: Problem } },
      },
    ]),
  );
}

export const AUTHED_ERRORS: ErrorCode[] = ["unauthorized", "forbidden", "password_change_required"];
export const BODY_ERRORS: ErrorCode[] = [
  "invalid_json",
  "validation_failed",
  "unsupported_media_type",
  "payload_too_large",
];

export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { "application/json": { schema } } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export const bearer = [{ bearer: [] }];

export const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .openapi({ description: "1–100, default 50" }),
  cursor: z.string().max(200).optional(),
});

export function page<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

/** Any id string: one that names nothing in the account answers 404, whatever its shape. */
export const IdParam = () =>
  z.object({
    id: z
      .string()
      .min(1)
      .openapi({ param: { name: "id", in: "path" } }),
  });

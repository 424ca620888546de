/** The OpenAPI side of SCIM: request and response shapes, errors, the bearer scheme. */
import { z } from "@hono/zod-openapi";
import { ERRORS, type ErrorCode } from "../lib/errors";
import { SCIM_CONTENT_TYPE } from "./errors";

export const scimSecurity = [{ scimBearer: [] }];

const ScimError = z
  .object({
    schemas: z.array(z.string()),
    status: z.string(),
    scimType: z.string().optional(),
    detail: z.string(),
    code: z.string(),
    request_id: z.string().optional(),
  })
  .openapi("ScimError");

/** The error answers a SCIM route can give, in the SCIM format. */
export function scimErrors(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = code === "validation_failed" ? 400 : ERRORS[code][0];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      { description: list.join(", "), content: { [SCIM_CONTENT_TYPE]: { schema: ScimError } } },
    ]),
  );
}

/** Every SCIM route can answer these: no or a bad token, a plan without SCIM. */
export const SCIM_AUTH_ERRORS: ErrorCode[] = ["unauthorized", "feature_not_in_plan"];
export const SCIM_BODY_ERRORS: ErrorCode[] = [
  "invalid_json",
  "validation_failed",
  "invalid_value",
  "unsupported_media_type",
  "payload_too_large",
];

export function scimResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { [SCIM_CONTENT_TYPE]: { schema } } };
}

/** Bodies are read leniently by the service (unknown attributes ignored), so any object passes here. */
export function scimBody<T extends z.ZodType>(schema: T) {
  return {
    required: true,
    content: { [SCIM_CONTENT_TYPE]: { schema }, "application/json": { schema } },
  };
}

const Meta = z.object({
  resourceType: z.string(),
  created: z.string(),
  lastModified: z.string(),
  location: z.string(),
});

const Flag = z
  .union([z.boolean(), z.string()])
  .openapi({ description: 'true/false, or "True"/"False"' });

export const ScimUserInput = z
  .looseObject({
    schemas: z.array(z.string()).optional(),
    userName: z.string().optional().openapi({ description: "The email address (required)" }),
    externalId: z.string().nullable().optional(),
    name: z
      .looseObject({
        givenName: z.string().nullable().optional(),
        familyName: z.string().nullable().optional(),
      })
      .nullable()
      .optional(),
    emails: z
      .array(
        z.looseObject({
          value: z.string().optional(),
          type: z.string().optional(),
          primary: Flag.optional(),
        }),
      )
      .nullable()
      .optional(),
    active: Flag.nullable().optional(),
  })
  .openapi("ScimUserInput");

export const ScimUser = z
  .object({
    schemas: z.array(z.string()),
    id: z.string(),
    externalId: z.string().optional(),
    userName: z.string(),
    name: z.object({ givenName: z.string(), familyName: z.string(), formatted: z.string() }),
    displayName: z.string(),
    emails: z.array(z.object({ value: z.string(), type: z.string(), primary: z.boolean() })),
    active: z.boolean(),
    groups: z.array(
      z.object({ value: z.string(), display: z.string(), $ref: z.string(), type: z.string() }),
    ),
    meta: Meta,
  })
  .openapi("ScimUser");

export const ScimGroupInput = z
  .looseObject({
    schemas: z.array(z.string()).optional(),
    displayName: z.string().optional().openapi({ description: "Required" }),
    externalId: z.string().nullable().optional(),
    members: z
      .array(z.looseObject({ value: z.string().optional() }))
      .nullable()
      .optional(),
  })
  .openapi("ScimGroupInput");

export const ScimGroup = z
  .object({
    schemas: z.array(z.string()),
    id: z.string(),
    externalId: z.string().optional(),
    displayName: z.string(),
    members: z
      .array(
        z.object({ value: z.string(), display: z.string(), $ref: z.string(), type: z.string() }),
      )
      .optional(),
    meta: Meta,
  })
  .openapi("ScimGroup");

export const ScimPatch = z
  .looseObject({
    schemas: z.array(z.string()).optional(),
    Operations: z
      .array(
        z.looseObject({
          op: z.string().openapi({ description: "add, replace or remove, in any case" }),
          path: z.string().optional(),
          value: z.unknown().optional(),
        }),
      )
      .optional(),
  })
  .openapi("ScimPatchOp");

export function listOf<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      schemas: z.array(z.string()),
      totalResults: z.number().int(),
      itemsPerPage: z.number().int(),
      startIndex: z.number().int(),
      Resources: z.array(item),
    })
    .openapi(name);
}

export const ListQuery = z.object({
  filter: z.string().optional().openapi({ description: 'e.g. userName eq "ada@example.com"' }),
  startIndex: z.string().optional().openapi({ description: "1-based, default 1" }),
  count: z.string().optional().openapi({ description: "0–100, default 100" }),
  attributes: z.string().optional(),
  excludedAttributes: z.string().optional().openapi({ description: "members, for groups" }),
});

export const GroupQuery = ListQuery.pick({ attributes: true, excludedAttributes: true });

export const ScimId = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: "id", in: "path" } }),
});

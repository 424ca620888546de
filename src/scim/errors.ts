/**
 * Errors under `/scim/v2` in the SCIM error format (RFC 7644 §3.12) rather than problem+json:
 * identity providers read `status`, `scimType` and `detail`. The codes are the catalogue's;
 * only their shape, and a few statuses SCIM fixes (400 for any invalid value), differ.
 */
import { type AppError, ERRORS, type ErrorCode } from "../lib/errors";

const SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SCIM_CONTENT_TYPE = "application/scim+json";

const SCIM_TYPES: Partial<Record<ErrorCode, string>> = {
  invalid_json: "invalidSyntax",
  validation_failed: "invalidValue",
  invalid_value: "invalidValue",
  invalid_filter: "invalidFilter",
  invalid_path: "invalidPath",
  email_taken: "uniqueness",
  group_name_taken: "uniqueness",
};

/** SCIM answers every invalid request with 400, where the rest of the API says 422. */
const STATUS: Partial<Record<ErrorCode, number>> = { validation_failed: 400 };

const DETAILS: Partial<Record<ErrorCode, string>> = {
  email_taken: "A user with this userName (email) already exists.",
  group_name_taken: "A group with this displayName already exists.",
};

export function scimErrorResponse(err: AppError, requestId?: string): Response {
  const status = STATUS[err.code] ?? ERRORS[err.code][0];
  const scimType = (err.extra.scimType as string | undefined) ?? SCIM_TYPES[err.code];
  const body = {
    schemas: [SCIM_ERROR_SCHEMA],
    status: String(status),
    ...(scimType ? { scimType } : {}),
    // Led by the code, since an identity provider shows only `detail` to its administrator.
    detail: `${err.code}: ${err.detail ?? DETAILS[err.code] ?? ERRORS[err.code][1]}`,
    code: err.code,
    ...(requestId ? { request_id: requestId } : {}),
  };
  const headers = new Headers({ "content-type": SCIM_CONTENT_TYPE });
  const retryAfter = err.extra.retryAfter;
  if (retryAfter !== undefined) headers.set("retry-after", String(retryAfter));
  return new Response(JSON.stringify(body), { status, headers });
}

/** Whether a request's errors answer in the SCIM format. */
export const isScimPath = (path: string) => path === "/scim/v2" || path.startsWith("/scim/v2/");

/**
 * The one error catalogue: every stable `code` the API answers with, its status and title.
 * Domain code throws `AppError(code)`; `problemResponse` is the only place that turns an
 * error into `application/problem+json` (RFC 9457).
 */
export const ERRORS = {
  invalid_json: [400, "Request body is not valid JSON"],
  validation_failed: [422, "Request failed validation"],
  unsupported_media_type: [415, "Unsupported media type"],
  payload_too_large: [413, "Request body too large"],
  unauthorized: [401, "Authentication required"],
  invalid_credentials: [401, "Invalid email or password"],
  invalid_refresh_token: [401, "Refresh token is invalid"],
  forbidden: [403, "Permission denied"],
  user_disabled: [403, "User is disabled"],
  password_change_required: [403, "Password change required"],
  permission_not_held: [403, "Beyond your own permissions"],
  feature_not_in_plan: [403, "Feature not in plan"],
  managed_by_reseller: [403, "Account is managed by a reseller"],
  not_found: [404, "Not found"],
  method_not_allowed: [405, "Method not allowed"],
  email_taken: [409, "Email already in use"],
  capacity_exceeded: [409, "Capacity exceeded"],
  last_administrator: [409, "Last administrator"],
  limit_below_usage: [409, "Limit below current usage"],
  group_builtin: [409, "Built-in group"],
  group_name_taken: [409, "Group name already in use"],
  invitation_pending: [409, "Invitation already pending"],
  invitation_not_pending: [409, "Invitation is no longer pending"],
  invitation_invalid: [404, "Invitation invalid"],
  pairing_code_invalid: [404, "Pairing code invalid"],
  token_invalid: [404, "Link invalid"],
  token_expired: [410, "Link expired"],
  invitation_expired: [410, "Invitation expired"],
  weak_password: [422, "Password does not meet the policy"],
  invalid_current_password: [422, "Current password is incorrect"],
  too_many_attempts: [429, "Too many attempts"],
  internal_error: [500, "Internal server error"],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  path: string;
  code: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly extra: { errors?: FieldError[]; retryAfter?: number; [k: string]: unknown } = {},
  ) {
    super(detail ?? ERRORS[code][1]);
    this.status = ERRORS[code][0];
  }
}

export function problemResponse(err: AppError, requestId?: string): Response {
  const [status, title] = ERRORS[err.code];
  const { retryAfter, ...extra } = err.extra;
  const body = {
    type: `https://docs.user-management.example/errors/${err.code}`,
    title,
    status,
    detail: err.detail ?? title,
    code: err.code,
    ...extra,
    ...(requestId ? { request_id: requestId } : {}),
  };
  const headers = new Headers({ "content-type": "application/problem+json" });
  if (retryAfter !== undefined) headers.set("retry-after", String(retryAfter));
  return new Response(JSON.stringify(body), { status, headers });
}

/**
 * The one error catalogue: every stable `code` the API answers with, its status, title and
 * meaning (listed at /docs/errors, where each problem's `type` points).
 * Domain code throws `AppError(code)`; `problemResponse` is the only place that turns an
 * error into `application/problem+json` (RFC 9457).
 */
export const ERRORS = {
  invalid_json: [
    400,
    "Request body is not valid JSON",
    "The body could not be parsed as JSON, or was empty where JSON was required.",
  ],
  validation_failed: [
    422,
    "Request failed validation",
    "A field is missing, malformed, unknown or out of range; `errors[]` names each field.",
  ],
  unsupported_media_type: [
    415,
    "Unsupported media type",
    "The body's Content-Type is not one the route accepts.",
  ],
  payload_too_large: [
    413,
    "Request body too large",
    "The body is larger than the route accepts (64 KiB, or 1 MiB for imports).",
  ],
  unauthorized: [
    401,
    "Authentication required",
    "No credentials, or credentials that are invalid, expired or revoked.",
  ],
  invalid_credentials: [
    401,
    "Invalid email or password",
    "The email and password do not match a user; the same answer whether or not the email exists.",
  ],
  invalid_refresh_token: [
    401,
    "Refresh token is invalid",
    "The refresh token is unknown, expired or already used; reuse ends the whole session.",
  ],
  forbidden: [
    403,
    "Permission denied",
    "The caller lacks the permission the route requires, or the action needs a login session.",
  ],
  user_disabled: [403, "User is disabled", "The user has been disabled by an administrator."],
  password_change_required: [
    403,
    "Password change required",
    "The user must change their password (POST /v1/me/password) before anything else.",
  ],
  permission_not_held: [
    403,
    "Beyond your own permissions",
    "The change would grant, or act on someone holding, permissions the caller does not hold.",
  ],
  feature_not_in_plan: [
    403,
    "Feature not in plan",
    "The account's plan does not include this feature; `detail` names the plans that do.",
  ],
  managed_by_reseller: [
    403,
    "Account is managed by a reseller",
    "The account's plan is changed by its reseller, not by its own administrators.",
  ],
  invalid_filter: [
    400,
    "Unsupported SCIM filter",
    "The SCIM filter is malformed or not one the server supports (see ServiceProviderConfig).",
  ],
  invalid_path: [
    400,
    "Invalid SCIM PATCH path",
    "A SCIM PATCH operation names a path that is malformed or cannot be changed.",
  ],
  invalid_value: [
    400,
    "Invalid SCIM value",
    "A SCIM request is missing a required attribute or has one of the wrong type or form.",
  ],
  sso_required: [
    403,
    "Team Login required",
    "The account signs this email in through its identity provider; `start_url` begins that login. Administrators keep password login.",
  ],
  sso_jit_disabled: [
    403,
    "No such user, and just-in-time provisioning is off",
    "The identity provider vouched for someone who is not a user of the account, and the connection does not create users.",
  ],
  sso_not_configured: [
    404,
    "Team Login not configured",
    "No account routes this email domain to an identity provider, or the account has no connection.",
  ],
  not_found: [404, "Not found", "No such route, or no such resource in the caller's account."],
  method_not_allowed: [405, "Method not allowed", "The route exists but not with this method."],
  email_taken: [
    409,
    "Email already in use",
    "Another user, in any account, already has this email.",
  ],
  capacity_exceeded: [
    409,
    "Capacity exceeded",
    "The account's user or device limit is reached; the body names the limit, the plan and whom to ask.",
  ],
  last_administrator: [
    409,
    "Last administrator",
    "The change would leave the account without an active administrator.",
  ],
  limit_below_usage: [
    409,
    "Limit below current usage",
    "The new plan or limit is below what the account uses now.",
  ],
  group_builtin: [
    409,
    "Built-in group",
    "Built-in groups cannot be deleted or renamed, and Administrators always holds every permission.",
  ],
  sso_domain_taken: [
    409,
    "Domain routed by another account",
    "An email domain can be routed to one account's identity provider only; another account has it.",
  ],
  group_name_taken: [
    409,
    "Group name already in use",
    "The account already has a group with this name.",
  ],
  invitation_pending: [
    409,
    "Invitation already pending",
    "The account already has a pending invitation for this email.",
  ],
  invitation_not_pending: [
    409,
    "Invitation is no longer pending",
    "The invitation was accepted, revoked or has expired.",
  ],
  invitation_invalid: [
    404,
    "Invitation invalid",
    "The invitation link is unknown, used, revoked or replaced by a newer one.",
  ],
  pairing_code_invalid: [
    404,
    "Pairing code invalid",
    "The pairing code is unknown, expired or already claimed.",
  ],
  token_invalid: [
    404,
    "Link invalid",
    "The mailed link is unknown, used, or replaced by a newer one.",
  ],
  token_expired: [410, "Link expired", "The mailed link has expired; ask for a new one."],
  invitation_expired: [
    410,
    "Invitation expired",
    "The invitation has expired; an administrator can resend it.",
  ],
  sso_issuer_invalid: [
    422,
    "Identity provider not usable",
    "The issuer's discovery document could not be fetched, or it does not describe a usable OpenID Provider.",
  ],
  sso_redirect_invalid: [
    400,
    "Redirect not allowed",
    "`redirect_to` must be on APP_URL's origin or one of the CORS_ORIGINS.",
  ],
  sso_state_invalid: [
    400,
    "Login state invalid",
    "The login's state is unknown, expired, already used, or not bound to this browser; start again.",
  ],
  sso_idp_error: [
    400,
    "Identity provider refused",
    "The identity provider answered with an error, or its answer did not verify (issuer, audience, expiry, nonce, signature).",
  ],
  sso_email_unverified: [
    403,
    "Email not verified",
    "The identity provider did not vouch that the email is verified, or gave none.",
  ],
  sso_domain_mismatch: [
    403,
    "Email outside the connection's domains",
    "The identity provider gave an email whose domain is not one of the connection's domains.",
  ],
  sso_code_invalid: [
    400,
    "Login code invalid",
    "The one-time login code is unknown, expired or already used.",
  ],
  weak_password: [
    422,
    "Password does not meet the policy",
    "The password is too short, too long, too common, or based on the email or account name.",
  ],
  invalid_current_password: [
    422,
    "Current password is incorrect",
    "The current password given with the change is wrong.",
  ],
  too_many_attempts: [
    429,
    "Too many attempts",
    "Too many attempts from this address or for this email; retry after `Retry-After` seconds.",
  ],
  misconfigured: [
    503,
    "Service misconfigured",
    "A required setting or secret is missing or weak; `variables` names them (never their values).",
  ],
  internal_error: [
    500,
    "Internal server error",
    "Something went wrong on our side; quote the request id when reporting it.",
  ],
} as const satisfies Record<string, readonly [number, string, string]>;

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

/** The problem's `type`: the code's entry on the served error list. */
const errorTypeUrl = (appUrl: string, code: ErrorCode) =>
  `${appUrl.replace(/\/$/, "")}/docs/errors#${code}`;

export function problemResponse(err: AppError, appUrl: string, requestId?: string): Response {
  const [status, title] = ERRORS[err.code];
  const { retryAfter, ...extra } = err.extra;
  const body = {
    type: errorTypeUrl(appUrl, err.code),
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

/**
 * The whole API, mounted in one place: a reader finds every path here. Each module is a
 * chained sub-app; errors from anywhere become problem+json in `onError`.
 */

import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { accountRoutes } from "./accounts/routes";
import { activityRoutes } from "./activity/routes";
import { apiTokenRoutes } from "./api-tokens/routes";
import { cookieRoutes } from "./auth/cookie-routes";
import { authRoutes } from "./auth/routes";
import { mySessionRoutes, userSessionRoutes } from "./auth/session-routes";
import { authzRoutes } from "./authz/check";
import { billingRoutes } from "./billing/routes";
import { ping } from "./db/client";
import { deviceRoutes } from "./devices/routes";
import { groupRoutes } from "./groups/routes";
import { docsPage, errorsPage } from "./http/docs";
import { apiCors, securityHeaders } from "./http/headers";
import { requestContext } from "./http/middleware";
import { createRouter } from "./http/router";
import { invitationRoutes } from "./invitations/routes";
import { AppError, type ErrorCode, problemResponse } from "./lib/errors";
import { adminResetRoutes, emailVerificationRoutes, passwordRoutes } from "./lifecycle/routes";
import { meRoutes } from "./me/routes";
import { activatePage } from "./pages/activate";
import { cancelEmailChangePage } from "./pages/cancel-email-change";
import { resetPasswordPage } from "./pages/reset-password";
import { verifyEmailPage } from "./pages/verify-email";
import { devRoutes } from "./platform/dev-outbox";
import { platformRoutes } from "./platform/routes";
import { resellerRoutes } from "./resellers/routes";
import { isScimPath, scimErrorResponse } from "./scim/errors";
import { scimRoutes } from "./scim/routes";
import { scimTokenRoutes } from "./scim/token-routes";
import { ssoExchangeRoutes, ssoRoutes } from "./sso/routes";
import { userRoutes } from "./users/routes";
import { webhookRoutes } from "./webhooks/routes";

const HTTP_CODES: Record<number, ErrorCode> = {
  400: "invalid_json",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

/** JSON bodies are small; the bulk import is the one route that takes more. */
const BODY_LIMIT = 64 * 1024;
const limitBody = bodyLimit({
  maxSize: BODY_LIMIT,
  onError: () => {
    throw new AppError("payload_too_large", `Request bodies are limited to ${BODY_LIMIT} bytes.`);
  },
});

export function buildApp() {
  const app = createRouter();
  app.use("*", securityHeaders);
  app.use("*", requestContext);
  app.use("/v1/*", apiCors);
  app.use("*", (c, next) => (c.req.path === "/v1/users/import" ? next() : limitBody(c, next)));

  // Touches nothing: the benchmark's baseline for what the runtime and router cost.
  app.get("/health/live", (c) => c.json({ status: "ok" }));
  app.get("/health", async (c) => {
    await ping(c.get("ctx").db);
    return c.json({ status: "ok" });
  });

  app
    .route("/v1/auth", authRoutes)
    .route("/v1/auth", ssoExchangeRoutes)
    .route("/v1/auth/cookie", cookieRoutes)
    .route("/v1/sso", ssoRoutes)
    .route("/v1/me", meRoutes)
    .route("/v1/me/sessions", mySessionRoutes)
    .route("/v1/users", userRoutes)
    .route("/v1/users", adminResetRoutes)
    .route("/v1/users", userSessionRoutes)
    .route("/v1/email-verification", emailVerificationRoutes)
    .route("/v1/password", passwordRoutes)
    .route("/v1/groups", groupRoutes)
    .route("/v1/authz", authzRoutes)
    .route("/v1/account", accountRoutes)
    .route("/v1/account", billingRoutes)
    .route("/v1/invitations", invitationRoutes)
    .route("/v1/api-tokens", apiTokenRoutes)
    .route("/v1/scim-tokens", scimTokenRoutes)
    .route("/v1/webhooks", webhookRoutes)
    .route("/v1", deviceRoutes)
    .route("/v1", activityRoutes)
    .route("/v1/platform", platformRoutes)
    .route("/v1/reseller", resellerRoutes)
    .route("/v1/dev", devRoutes)
    .route("/scim/v2", scimRoutes)
    .route("/", activatePage)
    .route("/", verifyEmailPage)
    .route("/", cancelEmailChangePage)
    .route("/", resetPasswordPage);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An access token from /v1/auth/login, or an API token (tok_…)",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "scimBearer", {
    type: "http",
    scheme: "bearer",
    description: "A SCIM token (scim_…) from POST /v1/scim-tokens; it opens /scim/v2 only",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "User Management API",
      version: "1.0.0",
      description: "Users, groups, capacity and activity for device and content accounts.",
    },
  });
  app.get("/docs", (c) =>
    c.html(
      docsPage(
        app.getOpenAPI31Document({
          openapi: "3.1.0",
          info: { title: "User Management API", version: "1.0.0" },
        }),
      ),
    ),
  );

  app.get("/docs/errors", (c) => c.html(errorsPage()));

  app.notFound(() => {
    throw new AppError("not_found", "No such route.");
  });
  app.onError((err, c) => {
    const requestId = c.get("requestId");
    // Misconfigured requests have no context, and no trustworthy APP_URL: link relatively.
    const appUrl = c.get("ctx")?.config.appUrl ?? "";
    // Identity providers read SCIM's error format, not problem+json.
    const answer = (e: AppError) =>
      isScimPath(c.req.path)
        ? scimErrorResponse(e, requestId)
        : problemResponse(e, appUrl, requestId);
    if (err instanceof AppError) return answer(err);
    if (err instanceof HTTPException && HTTP_CODES[err.status]) {
      return answer(new AppError(HTTP_CODES[err.status]!, err.message));
    }
    console.error(
      JSON.stringify({
        msg: "unhandled error",
        request_id: requestId,
        err: String(err),
        stack: (err as Error).stack,
      }),
    );
    return answer(
      new AppError(
        "internal_error",
        "Something went wrong. Quote the request id when reporting it.",
      ),
    );
  });
  return app;
}

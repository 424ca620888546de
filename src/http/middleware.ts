/** The request path: request id and domain context, then authentication, then permission checks. */
import { createMiddleware } from "hono/factory";
import { authenticateRequest } from "../auth/authenticate";
import { authorize } from "../authz/authorize";
import type { Permission } from "../authz/catalog";
import { type Feature, requireFeature } from "../billing/features";
import { loadConfig } from "../config";
import type { AppEnv, AuthedCtx } from "../context";
import { database } from "../db/client";
import { countingInto } from "../db/round-trips";
import { clock } from "../lib/clock";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { outbox } from "../stream/outbox";
import { alongsideOf, type PreloadedRead } from "./preload";

export const requestContext = createMiddleware<AppEnv>(async function requestContext(c, next) {
  const requestId = newId("request");
  c.set("requestId", requestId);
  // Before the handler, so the answer it builds carries it without being copied.
  c.header("x-request-id", requestId);
  const loaded = loadConfig(c.env);
  if (!loaded.ok) {
    // Every answer, /health included, says so: never run with a missing or known secret.
    throw new AppError(
      "misconfigured",
      `The service is misconfigured: set ${loaded.problems.join(", ")} (see the Deploy section of the README).`,
      { variables: loaded.problems },
    );
  }
  const { config } = loaded;
  const roundTrips = { count: 0 };
  const development = config.development;
  // Every message the request queues leaves in one send, after the answer is built.
  const box = outbox(c.env, (p) => c.executionCtx.waitUntil(p), requestId);
  c.set("ctx", {
    db: database(c.env.DB, development),
    env: c.env,
    config,
    now: clock.now(),
    meta: {
      requestId,
      ip: c.req.header("cf-connecting-ip") ?? null,
      userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
    },
    roundTrips,
    waitUntil: box.waitUntil,
    send: box.send,
  });
  try {
    if (development) {
      await countingInto(roundTrips, next);
      c.header("x-d1-round-trips", String(roundTrips.count));
    } else {
      await next();
    }
  } finally {
    // A handler's throw has already become the answer (hono's onError) by now.
    box.flush();
  }
  // An answer not built through `c` (an error's problem, a page made by hand) lacks it.
  if (!c.res.headers.has("x-request-id")) c.header("x-request-id", requestId);
});

/** While a password change is required, only these answer. */
const GATE_ALLOWED = new Set(["/v1/me", "/v1/me/password", "/v1/auth/logout"]);

/**
 * Bearer access token or API token; anything else is 401. With a route's read, that read goes
 * in the principal's D1 batch (see ./preload.ts).
 */
function authenticating(read?: PreloadedRead<unknown, unknown>) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const pending = alongsideOf(c, read);
    const { principal, alongside } = await authenticateRequest(
      c.get("ctx"),
      c.req.header("authorization"),
      pending.alongside,
    );
    if (principal.user.mustChangePassword && !GATE_ALLOWED.has(c.req.path)) {
      throw new AppError(
        "password_change_required",
        "Change your password with POST /v1/me/password first.",
      );
    }
    c.set("principal", principal);
    const built = pending.built();
    if (read && alongside && built) {
      c.set("preloaded", {
        owner: read,
        accountId: alongside.accountId,
        read: built,
        rows: alongside.rows,
      });
    }
    await next();
  });
}

export const authenticate = authenticating();

function permissionCheck(permissions: Permission[]) {
  return createMiddleware<AppEnv>(async function requirePermission(c, next) {
    const { grants } = c.get("principal");
    const missing = permissions.find((p) => !authorize(grants, p).allowed);
    if (missing) throw new AppError("forbidden", `Requires the ${missing} permission.`);
    await next();
  });
}

/** Route guard: authenticates, then requires every listed permission. */
export function requires(...permissions: Permission[]) {
  return [authenticate, permissionCheck(permissions)];
}

/**
 * Route guard of a read: as `requires`, and the route's read runs in the same D1 round trip
 * as the principal; the handler takes its answer with `read.result(c, input)`.
 */
export function requiresReading<I, T>(read: PreloadedRead<I, T>, ...permissions: Permission[]) {
  return [authenticating(read as PreloadedRead<unknown, unknown>), permissionCheck(permissions)];
}

/**
 * Route guard of a plan feature: authenticates, then requires the feature, then every
 * listed permission. The plan comes first so that a caller whose plan lacks the feature
 * learns that, rather than being sent to ask an administrator for a permission that would
 * not help.
 */
export function requiresFeature(feature: Feature, ...permissions: Permission[]) {
  const check = createMiddleware<AppEnv>(async function requirePlanFeature(c, next) {
    requireFeature(c.get("principal"), feature);
    await next();
  });
  return [authenticate, check, permissionCheck(permissions)];
}

/** The domain context of an authenticated request. */
export function authed(c: {
  get(key: "ctx"): AppEnv["Variables"]["ctx"];
  get(key: "principal"): AppEnv["Variables"]["principal"];
}): AuthedCtx {
  return { ...c.get("ctx"), principal: c.get("principal") };
}

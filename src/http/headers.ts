/** Response headers every answer carries, and CORS for dashboards served from other origins. */

import type { Context } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { loadConfig } from "../config";
import type { AppEnv } from "../context";

/**
 * API answers carry tokens, secrets and personal data, so no cache may keep them; the
 * simplest rule that covers every secret-bearing answer is to cache no `/v1` answer at all.
 * HSTS is left out in development, where the service runs on plain http.
 */
function securityHeaderList(c: Context<AppEnv>): [string, string][] {
  const list: [string, string][] = [["x-content-type-options", "nosniff"]];
  if (c.req.path.startsWith("/v1/")) list.push(["cache-control", "no-store"]);
  const loaded = loadConfig(c.env);
  // A misconfigured deployment is treated as production: it is one.
  if (!loaded.ok || !loaded.config.development) {
    list.push(["strict-transport-security", "max-age=63072000; includeSubDomains"]);
  }
  return list;
}

export const securityHeaders = createMiddleware<AppEnv>(async function securityHeaders(c, next) {
  const list = securityHeaderList(c);
  // Set before the handler, they go into the answer it builds through `c` at no cost; set on
  // a finished answer, each one copies it whole.
  for (const [name, value] of list) c.header(name, value);
  await next();
  // An answer not built through `c` (an error's problem, a page made by hand) lacks them.
  if (!c.res.headers.has("x-content-type-options")) {
    for (const [name, value] of list) c.header(name, value);
  }
});

/**
 * Support and partner routes are called by servers, never by a browser dashboard; the
 * console's cookie session belongs to the console served here, never to another origin.
 */
const NO_CORS = /^\/v1\/(platform|reseller|dev|auth\/cookie)(\/|$)/;

/**
 * Bearer tokens travel in a header, never in cookies, so credentials stay off. Origins not on
 * the list get no CORS headers at all (not even on a preflight), so the browser refuses them.
 */
const allowListed = cors({
  origin: (origin) => origin,
  allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
  allowHeaders: ["authorization", "content-type"],
  exposeHeaders: ["x-request-id", "retry-after"],
  maxAge: 600,
});

export const apiCors = createMiddleware<AppEnv>(async function apiCors(c, next) {
  if (NO_CORS.test(c.req.path)) return next();
  const loaded = loadConfig(c.env);
  const allowed = loaded.ok ? loaded.config.corsOrigins : [];
  if (allowed.length === 0) return next();
  const origin = c.req.header("origin");
  if (!origin || !allowed.includes(origin)) {
    // The answer still depends on the origin, so a shared cache must not reuse it for another.
    // Set before the handler, as the security headers are: after, it copies the answer whole.
    c.header("vary", "Origin", { append: true });
    await next();
    if (!/\bOrigin\b/.test(c.res.headers.get("vary") ?? "")) {
      c.header("vary", "Origin", { append: true });
    }
    return;
  }
  return allowListed(c, next);
});

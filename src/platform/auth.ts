/** Platform support authenticates with the one PLATFORM_ADMIN_TOKEN; it works nowhere else. */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { sha256Hex, timingSafeEqual } from "../lib/crypto";
import { AppError } from "../lib/errors";

export const platformAuth = createMiddleware<AppEnv>(async function platformAuth(c, next) {
  const presented = /^Bearer +(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  const expected = c.env.PLATFORM_ADMIN_TOKEN;
  const enc = new TextEncoder();
  // Digests have equal length, so the comparison time says nothing about the token.
  const ok =
    !!presented &&
    !!expected &&
    timingSafeEqual(enc.encode(await sha256Hex(presented)), enc.encode(await sha256Hex(expected)));
  if (!ok) throw new AppError("unauthorized", "A valid platform token is required.");
  await next();
});

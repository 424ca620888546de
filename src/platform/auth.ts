/** Platform support authenticates with the one PLATFORM_ADMIN_TOKEN; it works nowhere else. */
import { createMiddleware } from "hono/factory";
import { bearerToken, secretMatches } from "../auth/bearer";
import type { AppEnv } from "../context";
import { sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";

export const platformAuth = createMiddleware<AppEnv>(async function platformAuth(c, next) {
  const presented = bearerToken(c.req.header("authorization"));
  const expected = c.get("ctx").config.platformToken;
  // Digests have equal length, so the comparison time says nothing about the token.
  const ok =
    !!presented && !!expected && (await secretMatches(presented, await sha256Hex(expected)));
  if (!ok) throw new AppError("unauthorized", "A valid platform token is required.");
  await next();
});

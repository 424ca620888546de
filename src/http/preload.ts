/**
 * Authenticated reads in one D1 round trip. A route declares its read as a function of the
 * account id and its validated input; the authentication step builds it from the raw request
 * for the account the access token names and sends it in the principal's batch. The rows are
 * only decoded by the handler, that is after every check of the route's middleware (password
 * gate, plan feature, permissions) has passed: a refused caller gets the same 401 or 403 as
 * before and the rows are dropped unread. When the read could not go along (an API token, or
 * input the validator will refuse) the handler runs it on its own round trip.
 */
import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Alongside } from "../auth/authenticate";
import type { AppEnv, Ctx, Principal } from "../context";
import type { Database } from "../db/client";
import { type Read, runRead } from "../db/read";

/** What the authentication step kept for the handler: whose read, for which account, its rows. */
export interface Preloaded {
  owner: PreloadedRead<unknown, unknown>;
  accountId: string;
  read: Read<unknown>;
  rows: unknown;
}

interface HandlerContext {
  get(key: "ctx"): Ctx;
  get(key: "principal"): Principal;
  get(key: "preloaded"): Preloaded | undefined;
}

export interface PreloadedRead<I, T> {
  /** For the authentication step: the read of this request, or null to leave it to the handler. */
  prepare(c: Context<AppEnv>): ((accountId: string) => Read<T> | null) | null;
  /** For the handler, with its validated input: the read's answer for the principal's account. */
  result(c: HandlerContext, input: I): Promise<T>;
}

/** The request's input as the route's validator sees it (hono's `query` and `param` targets). */
function rawInput(c: Context<AppEnv>, target: "query" | "param") {
  if (target === "param") return c.req.param();
  return Object.fromEntries(
    Object.entries(c.req.queries()).map(([k, v]) => (v.length === 1 ? [k, v[0]] : [k, v])),
  );
}

/** Declares a route's read: `build` takes the account id first, as every repo function does. */
export function preloadedRead<S extends z.ZodType, T>(
  target: "query" | "param",
  schema: S,
  build: (db: Database, accountId: string, input: z.output<S>) => Read<T>,
): PreloadedRead<z.output<S>, T> {
  const self: PreloadedRead<z.output<S>, T> = {
    prepare(c) {
      const parsed = schema.safeParse(rawInput(c, target));
      if (!parsed.success) return null;
      const db = c.get("ctx").db;
      return (accountId) => {
        try {
          return build(db, accountId, parsed.data);
        } catch {
          // Input the read refuses (a bad cursor) is answered by the handler, after the checks.
          return null;
        }
      };
    },
    async result(c, input) {
      const kept = c.get("preloaded");
      const { accountId } = c.get("principal");
      if (kept && kept.owner === self && kept.accountId === accountId) {
        return kept.read.decode(kept.rows) as T;
      }
      return runRead(build(c.get("ctx").db, accountId, input));
    },
  };
  return self;
}

/** Adapts a route's read to what `authenticateRequest` takes, remembering what was built. */
export function alongsideOf(
  c: Context<AppEnv>,
  owner: PreloadedRead<unknown, unknown> | undefined,
): { alongside?: Alongside; built(): Read<unknown> | null } {
  const prepare = owner?.prepare(c);
  let built: Read<unknown> | null = null;
  if (!prepare) return { built: () => null };
  return {
    alongside: (accountId) => {
      built = prepare(accountId);
      return built?.query ?? null;
    },
    built: () => built,
  };
}

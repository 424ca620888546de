/**
 * The caller's side of the account Durable Object: a seat- or device-consuming batch is
 * built here as usual (guards included) and run by the account's object, one at a time.
 */
import { type ActorType, actorOf, buildEvent, insertEvent } from "../activity/record";
import type { AuthMethod, Ctx, Principal } from "../context";
import { compile, type Statement } from "../db/batch";
import { AppError, type ErrorCode } from "../lib/errors";
import type { CapacityRefusal, ConsumeResult } from "./account-object";

export type LimitKind = "users" | "devices";

export function capacityError(kind: LimitKind, refusal: CapacityRefusal | undefined): AppError {
  const what = kind === "users" ? "user" : "device";
  const plan = refusal?.plan ?? "current";
  const contact = refusal?.reseller
    ? `Ask your reseller, ${refusal.reseller}, to raise it.`
    : "Upgrade the plan under Billing & Limits, or ask platform support to raise it.";
  return new AppError(
    "capacity_exceeded",
    `The account's ${what} limit (${refusal?.limit ?? "?"} on the ${plan} plan) is reached. ${contact}`,
    {
      limit: kind,
      limit_value: refusal?.limit ?? null,
      plan,
      contact: refusal?.reseller
        ? { type: "reseller", name: refusal.reseller }
        : { type: "support" },
    },
  );
}

/** Who is acting, for the `capacity.limit_reached` event a refusal may record. */
export interface Acting {
  actor: { type: ActorType; id: string | null };
  method?: AuthMethod | null;
}

export const actingAs = (principal: Principal): Acting => ({
  actor: actorOf(principal),
  method: principal.method,
});

function limitReachedEvent(ctx: Ctx, accountId: string, kind: LimitKind, acting?: Acting) {
  const event = buildEvent(ctx, {
    type: "capacity.limit_reached",
    accountId,
    actor: acting?.actor ?? { type: "system", id: null },
    subject: { type: "account", id: accountId },
    method: acting?.method ?? null,
    metadata: { limit: kind },
  });
  return compile(insertEvent(ctx.db, event));
}

const stubOf = (ctx: Ctx, accountId: string) =>
  ctx.env.ACCOUNT.get(ctx.env.ACCOUNT.idFromName(accountId));

/** Many independent batches (one per imported row): each answers its results or the code that refused it. */
export async function consumeEach(
  ctx: Ctx,
  accountId: string,
  kind: LimitKind,
  batches: Statement[][],
  acting?: Acting,
) {
  if (batches.length === 0) return [];
  const outcomes = await stubOf(ctx, accountId).consumeEach({
    accountId,
    limit: kind,
    batches: batches.map((b) => b.map(compile)),
    limitReachedEvent: limitReachedEvent(ctx, accountId, kind, acting),
    now: ctx.now,
  });
  ctx.roundTrips.count += outcomes.reduce((n, o) => n + o.roundTrips, 0);
  return outcomes.map((o): { error?: AppError; results?: ConsumeResult["results"] } =>
    o.code
      ? {
          error:
            o.code === "capacity_exceeded"
              ? capacityError(kind, o.refusal)
              : new AppError(o.code as ErrorCode),
        }
      : { results: o.results ?? [] },
  );
}

/** Runs `statements` in the account's object; answers the batch's results or throws the guard's AppError. */
export async function consumeCapacity(
  ctx: Ctx,
  accountId: string,
  kind: LimitKind,
  statements: Statement[],
  acting?: Acting,
) {
  const outcome = await stubOf(ctx, accountId).consume({
    accountId,
    limit: kind,
    statements: statements.map(compile),
    limitReachedEvent: limitReachedEvent(ctx, accountId, kind, acting),
    now: ctx.now,
  });
  ctx.roundTrips.count += outcome.roundTrips;
  if (outcome.code === "capacity_exceeded") throw capacityError(kind, outcome.refusal);
  if (outcome.code) throw new AppError(outcome.code as ErrorCode);
  return outcome.results ?? [];
}

/**
 * One Durable Object per account (DESIGN.md, "Capacity"): every seat- or device-consuming
 * write runs here, one at a time. A Durable Object's input gate does not hold other calls
 * while this one awaits D1, so the object queues them itself. The batch it runs is also
 * guarded in SQL (count < limit inside the same transaction), so the limit holds even if
 * two instances of the object briefly coexist.
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import type { Bindings } from "../context";
import { mapDbError } from "../db/batch";

const Compiled = z.object({ sql: z.string().min(1), params: z.array(z.unknown()) });

export const ConsumeInput = z.object({
  accountId: z.string().min(1),
  limit: z.enum(["users", "devices"]),
  statements: z.array(Compiled).min(1).max(200),
  /** Recorded when the limit refuses a write, at most once a minute per limit. */
  limitReachedEvent: Compiled.optional(),
  /** The caller's clock (the one seam tests move); the throttle above counts minutes on it. */
  now: z.number().optional(),
});
export type ConsumeInput = z.infer<typeof ConsumeInput>;

export const ConsumeEachInput = ConsumeInput.omit({ statements: true }).extend({
  batches: z.array(z.array(Compiled).min(1).max(200)).min(1).max(1000),
});
export type ConsumeEachInput = z.infer<typeof ConsumeEachInput>;

export interface CapacityRefusal {
  plan: string;
  limit: number;
  reseller: string | null;
}

/** Plain data (it crosses RPC): the batch's rows, or the code of the guard that refused it. */
type Row = Record<string, string | number | null>;

export interface ConsumeResult {
  results?: { results: Row[]; changes: number }[];
  code?: string;
  refusal?: CapacityRefusal;
  roundTrips: number;
}

const LIMIT_EVENT_EVERY_MS = 60_000;

export class AccountCapacity extends DurableObject<Bindings> {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly limitEventAt = new Map<string, number>();

  /** Runs the batch after every earlier one of this account has finished. */
  consume(input: ConsumeInput): Promise<ConsumeResult> {
    const parsed = ConsumeInput.parse(input);
    const run = this.tail.then(() => this.execute(parsed));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs independent batches in order, each all-or-nothing (a bulk import: one batch per
   * row), in one turn of the queue so no other write interleaves.
   */
  consumeEach(input: ConsumeEachInput): Promise<ConsumeResult[]> {
    const { batches, ...rest } = ConsumeEachInput.parse(input);
    const run = this.tail.then(async () => {
      const outcomes: ConsumeResult[] = [];
      for (const statements of batches) outcomes.push(await this.execute({ ...rest, statements }));
      return outcomes;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async execute(input: ConsumeInput): Promise<ConsumeResult> {
    const d1 = this.env.DB;
    try {
      const results = await d1.batch(
        input.statements.map((s) => d1.prepare(s.sql).bind(...s.params)),
      );
      return {
        results: results.map((r) => ({
          results: (r.results ?? []) as Row[],
          changes: r.meta.changes ?? 0,
        })),
        roundTrips: 1,
      };
    } catch (err) {
      const mapped = mapDbError(err);
      if (!mapped) throw err;
      if (mapped.code !== "capacity_exceeded") return { code: mapped.code, roundTrips: 1 };
      return { code: mapped.code, refusal: await this.refusal(input), roundTrips: 2 };
    }
  }

  /** Who to ask and what the limit is, plus the throttled `capacity.limit_reached` event, in one batch. */
  private async refusal(input: ConsumeInput): Promise<CapacityRefusal> {
    const d1 = this.env.DB;
    const { accountId } = input;
    const now = input.now ?? Date.now();
    const due =
      input.limitReachedEvent &&
      now - (this.limitEventAt.get(input.limit) ?? 0) >= LIMIT_EVENT_EVERY_MS;
    const describe = d1
      .prepare(
        `SELECT a.plan_id AS plan, coalesce(a.${input.limit === "users" ? "user_limit" : "device_limit"}, p.${input.limit === "users" ? "user_limit" : "device_limit"}) AS "limit", r.name AS reseller
         FROM accounts a JOIN plans p ON p.id = a.plan_id LEFT JOIN resellers r ON r.id = a.reseller_id WHERE a.id = ?`,
      )
      .bind(accountId);
    const statements = due
      ? [
          describe,
          d1.prepare(input.limitReachedEvent!.sql).bind(...input.limitReachedEvent!.params),
        ]
      : [describe];
    const [described] = await d1.batch<CapacityRefusal>(statements);
    if (due) this.limitEventAt.set(input.limit, now);
    return described?.results[0] ?? { plan: "unknown", limit: 0, reseller: null };
  }
}

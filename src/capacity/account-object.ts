/**
 * One Durable Object per account: every write that takes a seat or a device slot, and
 * every change of the limits, runs here, one at a time. The object owns the rule: it
 * appends "what is used fits within the limit" to each batch it runs, so a caller cannot
 * forget it, and the rule is checked in the same transaction as the write, so it holds even
 * if two instances of the object briefly coexist.
 *
 * A Durable Object's input gate does not hold other calls while this one awaits D1, so the
 * object queues them itself.
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import type { Bindings } from "../context";
import { type BatchResult, Compiled, compile, runCompiled } from "../db/batch";
import { AppError, type ErrorCode } from "../lib/errors";
import { describeLimit, type LimitKind, limitChange, withinLimit } from "./repo";

const Write = z.object({
  accountId: z.string().min(1),
  /** The caller's clock (the one seam tests move). */
  now: z.number(),
  statements: z.array(Compiled).min(1).max(400),
  /** Recorded when the limit refuses a write, at most once a minute per limit. */
  limitReachedEvent: Compiled.optional(),
});
type Write = z.infer<typeof Write>;

const Rows = Write.omit({ statements: true }).extend({
  rows: z.array(z.array(Compiled).min(1).max(400)).min(1).max(1000),
});
export type Rows = z.infer<typeof Rows>;

const Limits = z.object({
  accountId: z.string().min(1),
  now: z.number(),
  change: z.object({
    plan: z.string().optional(),
    userLimit: z.number().int().nullable().optional(),
    deviceLimit: z.number().int().nullable().optional(),
  }),
  statements: z.array(Compiled).max(10),
});
export type Limits = z.infer<typeof Limits>;

export interface CapacityRefusal {
  plan: string;
  limit: number;
  reseller: string | null;
}

/** Plain data, since it crosses RPC: the batch's results, or why it was refused. */
export interface Outcome {
  results?: BatchResult[];
  /** A refused write's error; `extra` is its JSON, since it holds arbitrary members. */
  error?: { code: ErrorCode; detail?: string; extra: string };
  refusal?: CapacityRefusal;
  /** Whether this refusal wrote the caller's `capacity.limit_reached` event. */
  limitEventRecorded?: boolean;
  roundTrips: number;
}

const LIMIT_EVENT_EVERY_MS = 60_000;

export class AccountCapacity extends DurableObject<Bindings> {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly limitEventAt = new Map<LimitKind, number>();

  /** A write that makes a user active or an invitation pending; refused past the user limit. */
  takeSeat(input: Write): Promise<Outcome> {
    const write = Write.parse(input);
    return this.serially(() => this.run(write, "users"));
  }

  /** A write that adds a device; refused past the device limit. */
  takeDevice(input: Write): Promise<Outcome> {
    const write = Write.parse(input);
    return this.serially(() => this.run(write, "devices"));
  }

  /**
   * Rows of a bulk import, each its own all-or-nothing batch under the user limit, in one
   * turn of the queue so no other write interleaves.
   */
  importRows(input: Rows): Promise<Outcome[]> {
    const { rows, ...rest } = Rows.parse(input);
    return this.serially(async () => {
      const outcomes: Outcome[] = [];
      for (const statements of rows)
        outcomes.push(await this.run({ ...rest, statements }, "users"));
      return outcomes;
    });
  }

  /** A plan or override change, refused below what the account uses now. */
  changeLimits(input: Limits): Promise<Outcome> {
    const { accountId, now, change, statements } = Limits.parse(input);
    const batch = [...statements, ...limitChange(accountId, change, now).map(compile)];
    return this.serially(() => this.execute(batch));
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async run(write: Write, kind: LimitKind): Promise<Outcome> {
    const rule = compile(withinLimit(write.accountId, kind, write.now));
    const outcome = await this.execute([...write.statements, rule]);
    if (outcome.error?.code !== "capacity_exceeded") {
      return outcome.results ? { ...outcome, results: outcome.results.slice(0, -1) } : outcome;
    }
    const { refusal, recorded } = await this.refusal(write, kind);
    return { ...outcome, refusal, limitEventRecorded: recorded, roundTrips: 2 };
  }

  private async execute(statements: Compiled[]): Promise<Outcome> {
    try {
      return { results: await runCompiled(this.env.DB, statements), roundTrips: 1 };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const error = { code: err.code, detail: err.detail, extra: JSON.stringify(err.extra) };
      return { error, roundTrips: 1 };
    }
  }

  /** Who to ask and what the limit is, plus the throttled `capacity.limit_reached` event, in one batch. */
  private async refusal(write: Write, kind: LimitKind) {
    const due =
      write.limitReachedEvent &&
      write.now - (this.limitEventAt.get(kind) ?? 0) >= LIMIT_EVENT_EVERY_MS;
    const statements = [compile(describeLimit(write.accountId, kind))];
    if (due) statements.push(write.limitReachedEvent!);
    const [described] = await runCompiled(this.env.DB, statements);
    if (due) this.limitEventAt.set(kind, write.now);
    const refusal = (described?.rows[0] as unknown as CapacityRefusal | undefined) ?? {
      plan: "unknown",
      limit: 0,
      reseller: null,
    };
    return { refusal, recorded: !!due };
  }
}

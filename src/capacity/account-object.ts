/**
 * One Durable Object per account: every write that takes a seat or a device slot, and
 * every change of the limits, runs here. The object owns the rule: it appends "what is
 * used fits within the limit" to each batch it runs, so a caller cannot forget it, and the
 * rule is checked in the same transaction as the write, so it holds even if two instances
 * of the object briefly coexist, and whatever the object believes.
 *
 * Seat and device writes do not wait for each other's D1 round trip. The object holds a
 * reservation count per limit: it knows the limit and the count used (from the last batch
 * or read that reported them), lets a write through at once while used plus writes in
 * flight stays under the limit, and otherwise holds it until those settle. It refuses only
 * on a count read from D1 after the write arrived (seats freed elsewhere, by a revoke, a
 * disable or an expiry, make any older count too high), and one such read answers every
 * write held for it. So the answer is exactly what running the writes one at a time would
 * give, and a full account refuses a burst with one read instead of a batch each.
 *
 * Bulk imports and limit changes still run one at a time against each other.
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

/**
 * The shape `Write` describes, checked by hand on the hot path (every invitation and user
 * crosses here; zod's parse of the statements was a visible share of an invitation's CPU).
 * Only this worker's own code calls the object, so this guards against our mistakes.
 */
function checkedWrite(input: Write): Write {
  const ok =
    typeof input?.accountId === "string" &&
    input.accountId.length > 0 &&
    typeof input.now === "number" &&
    Array.isArray(input.statements) &&
    input.statements.length >= 1 &&
    input.statements.length <= 400 &&
    [...input.statements, ...(input.limitReachedEvent ? [input.limitReachedEvent] : [])].every(
      (s) => typeof s?.sql === "string" && s.sql.length > 0 && Array.isArray(s.params),
    );
  return ok ? input : Write.parse(input);
}

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

/** What D1 reported about one limit, and when (by the object's tick) the query was sent. */
interface Seen {
  used: number;
  /** null: no limit. */
  limit: number | null;
  refusal: CapacityRefusal;
  sentAt: number;
}

/** The object's view of one limit: the last count reported, and the writes in flight. */
class Reservations {
  seen?: Seen;
  inFlight = 0;
  /** A read of the count under way, shared by every write that arrived before it was sent. */
  reading?: { sentAt: number; done: Promise<void> };
  private waiters: (() => void)[] = [];

  observe(seen: Seen) {
    if (!this.seen || seen.sentAt > this.seen.sentAt) this.seen = seen;
  }

  /** Whether one more write fits, counting those in flight as if they all succeed. */
  fits() {
    if (!this.seen) return this.inFlight === 0;
    return this.seen.limit === null || this.seen.used + this.inFlight < this.seen.limit;
  }

  /** Full by a count read after `arrived`: a refusal a one-at-a-time order would give too. */
  fullSince(arrived: number) {
    const { seen } = this;
    return !!seen && seen.sentAt > arrived && seen.limit !== null && seen.used >= seen.limit;
  }

  /** Resolves when a write in flight settles. */
  settled() {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release() {
    this.inFlight -= 1;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

const seenOf = (row: Record<string, unknown> | undefined, sentAt: number): Seen => ({
  used: Number(row?.used ?? 0),
  limit: row?.limit === null || row?.limit === undefined ? null : Number(row.limit),
  refusal: {
    plan: String(row?.plan ?? "unknown"),
    limit: Number(row?.limit ?? 0),
    reseller: (row?.reseller as string | null | undefined) ?? null,
  },
  sentAt,
});

/** At most this many writes in one group commit (a D1 batch also has a size limit). */
const GROUP_MAX_WRITES = 25;
const GROUP_MAX_STATEMENTS = 400;

/** Writes of one limit waiting for the batch on its way, to go in the next one together. */
interface Group {
  waiting: {
    write: Write;
    resolve: (outcome: Outcome) => void;
    reject: (err: unknown) => void;
  }[];
  sending: boolean;
}

/** The next writes to send together: in arrival order, within the group's size. */
function nextGroup(waiting: Group["waiting"]) {
  let count = 0;
  let statements = 0;
  for (const w of waiting) {
    if (count === GROUP_MAX_WRITES) break;
    if (count > 0 && statements + w.write.statements.length > GROUP_MAX_STATEMENTS) break;
    count += 1;
    statements += w.write.statements.length;
  }
  return waiting.splice(0, count);
}

export class AccountCapacity extends DurableObject<Bindings> {
  private tail: Promise<unknown> = Promise.resolve();
  private tick = 0;
  /** The latest caller clock seen: what a shared read counts unexpired invitations by. */
  private latestNow = 0;
  private readonly limitEventAt = new Map<LimitKind, number>();
  private readonly reservations: Record<LimitKind, Reservations> = {
    users: new Reservations(),
    devices: new Reservations(),
  };
  private readonly groups: Record<LimitKind, Group> = {
    users: { waiting: [], sending: false },
    devices: { waiting: [], sending: false },
  };

  /** A write that makes a user active or an invitation pending; refused past the user limit. */
  takeSeat(input: Write): Promise<Outcome> {
    return this.take(checkedWrite(input), "users");
  }

  /** A write that adds a device; refused past the device limit. */
  takeDevice(input: Write): Promise<Outcome> {
    return this.take(checkedWrite(input), "devices");
  }

  /**
   * Rows of a bulk import, each its own all-or-nothing batch under the user limit, one
   * after another, and never alongside another import or a limit change.
   */
  importRows(input: Rows): Promise<Outcome[]> {
    const { rows, ...rest } = Rows.parse(input);
    return this.serially(async () => {
      const outcomes: Outcome[] = [];
      for (const statements of rows)
        outcomes.push(await this.take({ ...rest, statements }, "users"));
      return outcomes;
    });
  }

  /** A plan or override change, refused below what the account uses now. */
  changeLimits(input: Limits): Promise<Outcome> {
    const { accountId, now, change, statements } = Limits.parse(input);
    const batch = [...statements, ...limitChange(accountId, change, now).map(compile)];
    return this.serially(async () => {
      try {
        return await this.execute(batch);
      } finally {
        // The limits may have moved: what the object knew is no ground for either answer.
        for (const r of Object.values(this.reservations)) r.seen = undefined;
      }
    });
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Admits the write when it may fit, refuses it when a fresh count says full, else waits. */
  private async take(write: Write, kind: LimitKind): Promise<Outcome> {
    const r = this.reservations[kind];
    const arrived = ++this.tick;
    this.latestNow = Math.max(this.latestNow, write.now);
    let roundTrips = 0;
    for (;;) {
      if (r.fullSince(arrived)) return this.refuse(write, kind, r.seen!.refusal, roundTrips);
      if (r.fits()) return this.run(write, kind, r, roundTrips);
      if (r.inFlight > 0) {
        await r.settled();
      } else if (r.reading) {
        const { sentAt, done } = r.reading;
        await done;
        if (sentAt > arrived) roundTrips += 1;
      } else {
        r.reading = this.read(write.accountId, kind, r);
      }
    }
  }

  /** Reads the count, for every write held until then. */
  private read(accountId: string, kind: LimitKind, r: Reservations) {
    const sentAt = ++this.tick;
    const statement = compile(describeLimit(accountId, kind, this.latestNow));
    const done = runCompiled(this.env.DB, [statement])
      .then(([described]) => r.observe(seenOf(described?.rows[0], sentAt)))
      .finally(() => {
        r.reading = undefined;
      });
    return { sentAt, done };
  }

  private async run(
    write: Write,
    kind: LimitKind,
    r: Reservations,
    before: number,
  ): Promise<Outcome> {
    r.inFlight += 1;
    const sentAt = ++this.tick;
    let outcome: Outcome;
    try {
      outcome = await this.together(kind, write);
      if (outcome.results) r.observe(seenOf(outcome.results.at(-1)?.rows[0], sentAt));
    } finally {
      r.release();
    }
    const roundTrips = before + outcome.roundTrips;
    if (outcome.results) return { results: outcome.results.slice(0, -2), roundTrips };
    if (outcome.error?.code !== "capacity_exceeded") return { ...outcome, roundTrips };
    // The object's count was low (seats taken behind its back): the rule in the batch held.
    const [described] = await runCompiled(this.env.DB, [
      compile(describeLimit(write.accountId, kind, write.now)),
    ]);
    const seen = seenOf(described?.rows[0], ++this.tick);
    r.observe(seen);
    return this.refuse(write, kind, seen.refusal, roundTrips + 1);
  }

  /**
   * Group commit: a write admitted while another batch of the same limit is on its way to D1
   * waits for it, and every write that waited goes in the next batch together, with the rule
   * checked once after all of them. Under a burst that is one D1 round trip for many writes
   * instead of one each. A batch is all or nothing, so if the group fails (a guard of one
   * write, or the rule), each of its writes runs again alone and gets its own answer.
   */
  private together(kind: LimitKind, write: Write): Promise<Outcome> {
    const group = this.groups[kind];
    const settled = new Promise<Outcome>((resolve, reject) =>
      group.waiting.push({ write, resolve, reject }),
    );
    if (!group.sending) void this.sendGroups(kind);
    return settled;
  }

  private async sendGroups(kind: LimitKind) {
    const group = this.groups[kind];
    group.sending = true;
    try {
      while (group.waiting.length > 0) {
        const writes = nextGroup(group.waiting);
        try {
          await this.sendGroup(kind, writes);
        } catch (err) {
          // Not a refusal (those are outcomes): each caller gets the error, as alone.
          for (const w of writes) w.reject(err);
        }
      }
    } finally {
      group.sending = false;
    }
  }

  private async sendGroup(kind: LimitKind, writes: Group["waiting"]) {
    if (writes.length === 1) {
      writes[0]!.resolve(await this.executeWithRule(kind, writes[0]!.write));
      return;
    }
    const grouped = await this.executeWithRule(kind, {
      ...writes[0]!.write,
      // The earliest clock counts the most invitations as unexpired: the stricter rule.
      now: Math.min(...writes.map((w) => w.write.now)),
      statements: writes.flatMap((w) => w.write.statements),
    });
    if (grouped.results) {
      const [rule, described] = grouped.results.slice(-2);
      let at = 0;
      for (const { write, resolve } of writes) {
        const own = grouped.results.slice(at, at + write.statements.length);
        at += write.statements.length;
        resolve({ results: [...own, rule!, described!], roundTrips: 1 });
      }
      return;
    }
    const alone = await Promise.all(writes.map((w) => this.executeWithRule(kind, w.write)));
    for (const [i, w] of writes.entries()) w.resolve({ ...alone[i]!, roundTrips: 2 });
  }

  /** The write's statements, then the rule, then the count it reports: one batch. */
  private executeWithRule(kind: LimitKind, write: Write): Promise<Outcome> {
    return this.execute([
      ...write.statements,
      compile(withinLimit(write.accountId, kind, write.now)),
      compile(describeLimit(write.accountId, kind, write.now)),
    ]);
  }

  /** A refusal, recording the caller's `capacity.limit_reached` event at most once a minute. */
  private async refuse(
    write: Write,
    kind: LimitKind,
    refusal: CapacityRefusal,
    roundTrips: number,
  ): Promise<Outcome> {
    const due =
      !!write.limitReachedEvent &&
      write.now - (this.limitEventAt.get(kind) ?? 0) >= LIMIT_EVENT_EVERY_MS;
    if (due) {
      this.limitEventAt.set(kind, write.now);
      await runCompiled(this.env.DB, [write.limitReachedEvent!]);
    }
    const { detail, extra } = new AppError("capacity_exceeded");
    return {
      error: { code: "capacity_exceeded", detail, extra: JSON.stringify(extra) },
      refusal,
      limitEventRecorded: due,
      roundTrips: roundTrips + (due ? 1 : 0),
    };
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
}

/**
 * The one way to write. A change is its statements (guards first) and the activity events
 * that record it: both go in one D1 batch, one transaction, so the audit trail never misses
 * a committed change, and the events are handed to the stream after commit. A write that
 * forgets its event or its publish cannot be expressed.
 *
 * Writes that take a seat or a device slot, or change the limits, run in the account's
 * Durable Object, which adds the capacity rule to the batch itself.
 */
import { buildEvent, type EventInput, type EventRow, publish } from "../activity/record";
import { insertEvent } from "../activity/repo";
import type { Outcome } from "../capacity/account-object";
import { capacityError } from "../capacity/refusal";
import type { LimitChange, LimitKind } from "../capacity/repo";
import type { Ctx } from "../context";
import { AppError } from "../lib/errors";
import { type BatchResult, compile, runBatch, type Statement } from "./batch";

/** A change: what to write, and the events that record it. */
export interface Change {
  statements: Statement[];
  events: EventInput[];
}

function prepare(ctx: Ctx, change: Change) {
  const rows = change.events.map((e) => buildEvent(ctx, e));
  // Events go first: a conditional event must see the state before the writes it records.
  const statements = [
    ...rows.map((r, i) => insertEvent(r, change.events[i]!.when)),
    ...change.statements,
  ];
  return { rows, statements };
}

/** The events the batch actually wrote (a conditional one may not have been). */
function written(rows: EventRow[], results: BatchResult[]) {
  return rows.filter((_, i) => results[i]!.changes > 0);
}

/** Writes the change in one batch and publishes its events; answers the statements' results. */
export async function commit(
  ctx: Ctx,
  statements: Statement[],
  events: EventInput[] = [],
): Promise<BatchResult[]> {
  const prepared = prepare(ctx, { statements, events });
  const results = await runBatch(ctx.db, prepared.statements);
  publish(ctx, written(prepared.rows, results));
  return results.slice(prepared.rows.length);
}

interface Take {
  /** What the write uses up: a seat (an active user or a pending invitation) or a device slot. */
  kind: "seat" | "device";
  accountId: string;
  /** Who is acting, for the `capacity.limit_reached` event a refusal records. */
  by?: Pick<EventInput, "actor" | "method">;
}

const limitOf = (take: Take): LimitKind => (take.kind === "seat" ? "users" : "devices");
const objectOf = (ctx: Ctx, accountId: string) =>
  ctx.env.ACCOUNT.get(ctx.env.ACCOUNT.idFromName(accountId));

function limitReached(ctx: Ctx, take: Take) {
  const row = buildEvent(ctx, {
    type: "capacity.limit_reached",
    accountId: take.accountId,
    actor: take.by?.actor ?? { type: "system", id: null },
    method: take.by?.method ?? null,
    subject: { type: "account", id: take.accountId },
    metadata: { limit: limitOf(take) },
  });
  return { row, compiled: compile(insertEvent(row)) };
}

/** Turns an outcome of the account object into results, or the error it stands for. */
function settle(ctx: Ctx, take: Take, outcome: Outcome, limitEvent: EventRow) {
  if (outcome.limitEventRecorded) publish(ctx, [limitEvent]);
  if (!outcome.error) return { results: outcome.results ?? [] };
  const error =
    outcome.error.code === "capacity_exceeded"
      ? capacityError(limitOf(take), outcome.refusal)
      : new AppError(outcome.error.code, outcome.error.detail, JSON.parse(outcome.error.extra));
  return { error };
}

/** A change that takes a seat or a device slot: run by the account's object, under its limit. */
export async function commitTaking(
  ctx: Ctx,
  take: Take,
  statements: Statement[],
  events: EventInput[] = [],
): Promise<BatchResult[]> {
  const prepared = prepare(ctx, { statements, events });
  const limitEvent = limitReached(ctx, take);
  const object = objectOf(ctx, take.accountId);
  const write = {
    accountId: take.accountId,
    now: ctx.now,
    statements: prepared.statements.map(compile),
    limitReachedEvent: limitEvent.compiled,
  };
  const outcome = await (take.kind === "seat" ? object.takeSeat(write) : object.takeDevice(write));
  ctx.roundTrips.count += outcome.roundTrips;
  const settled = settle(ctx, take, outcome, limitEvent.row);
  if (settled.error) throw settled.error;
  publish(ctx, written(prepared.rows, settled.results));
  return settled.results.slice(prepared.rows.length);
}

/** Independent changes that each take a seat (a bulk import): each commits or fails alone. */
export async function commitEachTakingSeat(ctx: Ctx, take: Take, changes: Change[]) {
  if (changes.length === 0) return [];
  const prepared = changes.map((c) => prepare(ctx, c));
  const limitEvent = limitReached(ctx, take);
  const outcomes = await objectOf(ctx, take.accountId).importRows({
    accountId: take.accountId,
    now: ctx.now,
    rows: prepared.map((p) => p.statements.map(compile)),
    limitReachedEvent: limitEvent.compiled,
  });
  ctx.roundTrips.count += outcomes.reduce((n, o) => n + o.roundTrips, 0);
  return outcomes.map((outcome, i) => {
    const settled = settle(ctx, take, outcome, limitEvent.row);
    if (settled.error) return { error: settled.error };
    publish(ctx, written(prepared[i]!.rows, settled.results));
    return { results: settled.results.slice(prepared[i]!.rows.length) };
  });
}

/** A plan or limit change with its events, serialized with every seat and device write. */
export async function commitLimits(
  ctx: Ctx,
  accountId: string,
  change: LimitChange,
  events: EventInput[],
): Promise<void> {
  const prepared = prepare(ctx, { statements: [], events });
  const outcome = await objectOf(ctx, accountId).changeLimits({
    accountId,
    now: ctx.now,
    change,
    statements: prepared.statements.map(compile),
  });
  ctx.roundTrips.count += outcome.roundTrips;
  if (outcome.error) {
    throw new AppError(outcome.error.code, outcome.error.detail, JSON.parse(outcome.error.extra));
  }
  publish(ctx, written(prepared.rows, outcome.results ?? []));
}

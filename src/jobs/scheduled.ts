/** The cron's work: housekeeping that must happen even when nobody calls the API. */
import { sql } from "drizzle-orm";
import type { Bindings, Ctx } from "../context";
import { runBatch } from "../db/batch";
import { expireDueInvitations } from "../invitations/service";
import { jobContext } from "../stream/consumer";
import { MAX_ATTEMPTS, type StreamMessage } from "../webhooks/delivery";

/** Events older than this and still not streamed are sent again (the send after commit is best effort). */
export const RESEND_AFTER_MS = 2 * 60 * 1000;
const DAY = 24 * 60 * 60 * 1000;

export async function resendUnstreamed(ctx: Ctx, limit = 500) {
  const rows = await ctx.db.all<{ id: string; account_id: string }>(
    sql`SELECT id, account_id FROM activity_events WHERE streamed_at IS NULL AND occurred_at < ${ctx.now - RESEND_AFTER_MS} ORDER BY occurred_at LIMIT ${limit}`,
  );
  for (let i = 0; i < rows.length; i += 100) {
    await ctx.env.EVENTS.sendBatch(
      rows.slice(i, i + 100).map((r) => ({
        body: { kind: "event", id: r.id, account_id: r.account_id } satisfies StreamMessage,
      })),
    );
  }
  return rows.length;
}

/**
 * Deliveries whose next attempt is long overdue (the queue message was lost, or the
 * attempt's record failed to write) are put back on the queue. The attempt claim makes a
 * duplicate harmless.
 */
export async function resendStalledDeliveries(ctx: Ctx, limit = 200) {
  const rows = await ctx.db.all<{ id: string; attempts: number }>(
    sql`SELECT id, attempts FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at < ${ctx.now - 15 * 60 * 1000} ORDER BY next_attempt_at LIMIT ${limit}`,
  );
  for (let i = 0; i < rows.length; i += 100) {
    await ctx.env.EVENTS.sendBatch(
      rows.slice(i, i + 100).map((r) => ({
        body: {
          kind: "deliver",
          delivery_id: r.id,
          attempt: Math.min(r.attempts + 1, MAX_ATTEMPTS),
        } satisfies StreamMessage,
      })),
    );
  }
  return rows.length;
}

/** Deletes events older than the retention, a chunk at a time; younger events are never touched. */
export async function pruneActivity(ctx: Ctx, retentionDays: number, chunk = 1000) {
  const cutoff = ctx.now - retentionDays * DAY;
  let removed = 0;
  for (let pass = 0; pass < 20; pass++) {
    const [result] = await runBatch(ctx.db, [
      sql`DELETE FROM activity_events WHERE id IN (SELECT id FROM activity_events WHERE occurred_at < ${cutoff} LIMIT ${chunk})`,
      // Deliveries carry a copy of the event: they go with it.
      sql`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE created_at < ${cutoff} LIMIT ${chunk})`,
    ]);
    const changes = result?.meta.changes ?? 0;
    removed += changes;
    if (changes < chunk) break;
  }
  return removed;
}

export function retentionDays(env: Bindings): number {
  const days = Number(env.ACTIVITY_RETENTION_DAYS);
  return Number.isInteger(days) && days > 0 ? days : 400;
}

export async function runScheduled(env: Bindings, waitUntil: (p: Promise<unknown>) => void) {
  const ctx = jobContext(env, waitUntil, "cron");
  // Bounded passes, so one run never outlives its time limit however much is due.
  for (let pass = 0; pass < 10; pass++) {
    if ((await expireDueInvitations(ctx)) === 0) break;
  }
  await resendUnstreamed(ctx);
  await resendStalledDeliveries(ctx);
  await pruneActivity(ctx, retentionDays(env));
}

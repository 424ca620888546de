/** The cron's work: housekeeping that must happen even when nobody calls the API. */
import { sql } from "drizzle-orm";
import type { Bindings, Ctx } from "../context";
import { runBatch } from "../db/batch";
import { expireDueInvitations } from "../invitations/service";
import { jobContext } from "../stream/consumer";
import type { StreamMessage } from "../webhooks/delivery";

/** Events older than this and still not streamed are sent again (the send after commit is best effort). */
export const RESEND_AFTER_MS = 2 * 60 * 1000;
const DAY = 24 * 60 * 60 * 1000;

export async function resendUnstreamed(ctx: Ctx, limit = 500) {
  const rows = await ctx.db.all<{ id: string; account_id: string }>(
    sql`SELECT id, account_id FROM activity_events WHERE streamed_at IS NULL AND occurred_at < ${ctx.now - RESEND_AFTER_MS} ORDER BY occurred_at LIMIT ${limit}`,
  );
  for (let i = 0; i < rows.length; i += 100) {
    await ctx.env.EVENTS.sendBatch(rows.slice(i, i + 100).map((r) => ({ body: { kind: "event", id: r.id, account_id: r.account_id } satisfies StreamMessage })));
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
  await pruneActivity(ctx, retentionDays(env));
}

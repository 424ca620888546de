/** The cron's work: housekeeping that must happen even when nobody calls the API. */
import { listUnstreamedAcrossAccounts, pruneEventsAcrossAccounts } from "../activity/repo";
import type { Bindings, Ctx } from "../context";
import { commit } from "../db/commit";
import { requeueStalledMail } from "../invitations/mail";
import { expireDueInvitations } from "../invitations/service";
import { jobContext } from "../stream/consumer";
import { MAX_ATTEMPTS, type StreamMessage } from "../webhooks/delivery";
import {
  listStalledDeliveriesAcrossAccounts,
  pruneDeliveriesAcrossAccounts,
} from "../webhooks/repo";
import { pruneExpired } from "./prune";

/** Events older than this and still not streamed are sent again (the send after commit is best effort). */
const RESEND_AFTER_MS = 2 * 60 * 1000;
const DAY = 24 * 60 * 60 * 1000;

async function sendInHundreds(ctx: Ctx, messages: StreamMessage[]) {
  for (let i = 0; i < messages.length; i += 100) {
    await ctx.env.EVENTS.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
  }
}

async function resendUnstreamed(ctx: Ctx, limit = 500) {
  const rows = await listUnstreamedAcrossAccounts(ctx.db, ctx.now - RESEND_AFTER_MS, limit);
  await sendInHundreds(
    ctx,
    rows.map((r) => ({ kind: "event", id: r.id, account_id: r.accountId })),
  );
  return rows.length;
}

/**
 * Deliveries whose next attempt is long overdue (the queue message was lost, or the
 * attempt's record failed to write) are put back on the queue. The attempt claim makes a
 * duplicate harmless.
 */
async function resendStalledDeliveries(ctx: Ctx, limit = 200) {
  const before = ctx.now - 15 * 60 * 1000;
  const rows = await listStalledDeliveriesAcrossAccounts(ctx.db, before, limit);
  await sendInHundreds(
    ctx,
    rows.map((r) => ({
      kind: "deliver",
      delivery_id: r.id,
      attempt: Math.min(r.attempts + 1, MAX_ATTEMPTS),
    })),
  );
  return rows.length;
}

/** Deletes events older than the retention, a chunk at a time; younger events are never touched. */
async function pruneActivity(ctx: Ctx, retentionDays: number, chunk = 1000) {
  const cutoff = ctx.now - retentionDays * DAY;
  let removed = 0;
  for (let pass = 0; pass < 20; pass++) {
    const [result] = await commit(ctx, [
      pruneEventsAcrossAccounts(cutoff, chunk),
      // Deliveries carry a copy of the event: they go with it.
      pruneDeliveriesAcrossAccounts(cutoff, chunk),
    ]);
    const changes = result?.changes ?? 0;
    removed += changes;
    if (changes < chunk) break;
  }
  return removed;
}

export async function runScheduled(env: Bindings, waitUntil: (p: Promise<unknown>) => void) {
  const ctx = jobContext(env, waitUntil, "cron");
  // Bounded passes, so one run never outlives its time limit however much is due.
  for (let pass = 0; pass < 10; pass++) {
    if ((await expireDueInvitations(ctx)) === 0) break;
  }
  await resendUnstreamed(ctx);
  await resendStalledDeliveries(ctx);
  await requeueStalledMail(ctx);
  await pruneActivity(ctx, ctx.config.activityRetentionDays);
  await pruneExpired(ctx);
}

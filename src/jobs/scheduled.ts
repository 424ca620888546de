/** The cron's work: housekeeping that must happen even when nobody calls the API. */
import type { Bindings, Ctx } from "../context";
import { database } from "../db/client";
import { expireDueInvitations } from "../invitations/service";
import { clock } from "../lib/clock";

export async function runScheduled(env: Bindings, waitUntil: (p: Promise<unknown>) => void) {
  const ctx: Ctx = {
    db: database(env.DB),
    env,
    now: clock.now(),
    meta: { requestId: `cron-${Date.now()}`, ip: null, userAgent: null },
    roundTrips: { count: 0 },
    waitUntil,
  };
  // Bounded passes, so one run never outlives its time limit however much is due.
  for (let pass = 0; pass < 10; pass++) {
    if ((await expireDueInvitations(ctx)) === 0) break;
  }
}

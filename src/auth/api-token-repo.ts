/** Recording API-token use: `last_used_at` always, the activity event at most once a minute. */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { buildEvent, insertEvent, publish } from "../activity/record";
import type { Ctx } from "../context";
import { runBatch } from "../db/batch";
import { apiTokens } from "../db/schema";

const EVENT_EVERY_MS = 60_000;

export function touchApiToken(ctx: Ctx, token: typeof apiTokens.$inferSelect): void {
  const { db, now } = ctx;
  const due = token.lastUsedAt === null || token.lastUsedAt <= now - EVENT_EVERY_MS;
  const event = due
    ? buildEvent(ctx, {
        type: "auth.api_token_used",
        accountId: token.accountId,
        actor: { type: "api_token", id: token.id },
        subject: { type: "api_token", id: token.id },
        method: "api_token",
        metadata: { name: token.name, user_id: token.userId },
      })
    : null;
  const stale = or(
    isNull(apiTokens.lastUsedAt),
    lt(apiTokens.lastUsedAt, now - EVENT_EVERY_MS + 1),
  );
  const write = async () => {
    if (event) {
      // Conditional on the row still being stale, so concurrent requests write one event.
      await runBatch(db, [
        insertEvent(
          db,
          event,
          sql`EXISTS (SELECT 1 FROM ${apiTokens} WHERE ${apiTokens.id} = ${token.id} AND ${stale})`,
        ),
        db
          .update(apiTokens)
          .set({ lastUsedAt: now })
          .where(and(eq(apiTokens.accountId, token.accountId), eq(apiTokens.id, token.id))),
      ]);
      publish(ctx, [event]);
    } else {
      await db
        .update(apiTokens)
        .set({ lastUsedAt: now })
        .where(and(eq(apiTokens.accountId, token.accountId), eq(apiTokens.id, token.id)));
    }
  };
  ctx.waitUntil(
    write().catch((err) =>
      console.warn(JSON.stringify({ msg: "api token touch failed", err: String(err) })),
    ),
  );
}

import { buildApp } from "./app";
import type { Bindings } from "./context";
import { runScheduled } from "./jobs/scheduled";
import { consumeDeadLetters, consumeEvents } from "./stream/consumer";

export { AccountCapacity } from "./capacity/account-object";

const app = buildApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch);
    else await consumeEvents(batch, env, (p) => ctx.waitUntil(p));
  },
  async scheduled(_controller, env, ctx) {
    await runScheduled(env, (p) => ctx.waitUntil(p));
  },
} satisfies ExportedHandler<Bindings>;

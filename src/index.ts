import { buildApp } from "./app";
import type { Bindings } from "./context";
import { runScheduled } from "./jobs/scheduled";

export { AccountCapacity } from "./capacity/account-object";

const app = buildApp();

export default {
  fetch: app.fetch,
  async scheduled(_controller, env, ctx) {
    await runScheduled(env, (p) => ctx.waitUntil(p));
  },
} satisfies ExportedHandler<Bindings>;

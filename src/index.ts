import { buildApp } from "./app";
import type { Bindings } from "./context";

export { AccountCapacity } from "./capacity/account-object";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;

/**
 * Counts D1 round trips per request (a statement run or a batch each), the figure that
 * carries to production. Development answers carry it in `x-d1-round-trips` so the
 * benchmark and tests can hold the budget: one for an authenticated read, one batch for a
 * write.
 *
 * The binding is wrapped once per isolate, not per request: the request being counted is
 * found through an AsyncLocalStorage scope, so concurrent requests never share a counter.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface RoundTrips {
  count: number;
}

const scope = new AsyncLocalStorage<RoundTrips>();

/** Runs `fn` with its D1 round trips counted into `counter`. */
export function countingInto<T>(counter: RoundTrips, fn: () => T): T {
  return scope.run(counter, fn);
}

const tick = () => {
  const counter = scope.getStore();
  if (counter) counter.count++;
};

/** Proxies map back to the runtime's own statements, which `batch` needs. */
const originals = new WeakMap<object, D1PreparedStatement>();

export function countRoundTrips(d1: D1Database): D1Database {
  const wrapStatement = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (prop === "bind")
          return (...args: unknown[]) => wrapStatement(value.apply(target, args));
        if (prop === "first" || prop === "run" || prop === "all" || prop === "raw") {
          return (...args: unknown[]) => {
            tick();
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
    originals.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(d1, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "prepare") return (query: string) => wrapStatement(value.call(target, query));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          tick();
          return value.call(
            target,
            statements.map((s) => originals.get(s) ?? s),
          );
        };
      }
      if (prop === "exec") {
        return (query: string) => {
          tick();
          return value.call(target, query);
        };
      }
      return value.bind(target);
    },
  });
}

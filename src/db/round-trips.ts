/**
 * Counts D1 round trips per request (a statement run or a batch each), the figure that
 * carries to production. Development answers carry it in `x-d1-round-trips` so the
 * benchmark and tests can hold the budget: one for an authenticated read, one more for a
 * list page, one batch for a write.
 */
interface RoundTrips {
  count: number;
}

/** Proxies map back to the runtime's own statements, which `batch` needs. */
const originals = new WeakMap<object, D1PreparedStatement>();

export function countRoundTrips(d1: D1Database, counter: RoundTrips): D1Database {
  const wrapStatement = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (prop === "bind")
          return (...args: unknown[]) => wrapStatement(value.apply(target, args));
        if (prop === "first" || prop === "run" || prop === "all" || prop === "raw") {
          return (...args: unknown[]) => {
            counter.count++;
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
          counter.count++;
          return value.call(
            target,
            statements.map((s) => originals.get(s) ?? s),
          );
        };
      }
      if (prop === "exec") {
        return (query: string) => {
          counter.count++;
          return value.call(target, query);
        };
      }
      return value.bind(target);
    },
  });
}

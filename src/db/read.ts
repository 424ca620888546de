/**
 * A read declared before it runs: the query and how its rows become the answer. Declaring it
 * lets the authentication step send it in the same D1 batch as the principal query, so an
 * authenticated read costs one round trip; run alone, it is just the query.
 */
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "./client";

export interface Read<T> {
  query: BatchItem<"sqlite">;
  /**
   * The answer from the query's rows (or an AppError such as not_found). Called only once
   * the caller is authorized, so it never answers for a caller that may not read.
   */
  decode(rows: unknown): T;
}

export function read<Q extends BatchItem<"sqlite">, T>(
  query: Q,
  decode: (rows: Q["_"]["result"]) => T,
): Read<T> {
  return { query, decode: decode as (rows: unknown) => T };
}

/** The read on its own round trip. */
export async function runRead<T>(r: Read<T>): Promise<T> {
  return r.decode(await r.query);
}

interface PreparedQuery {
  getQuery(): { sql: string; params: unknown[] };
  mapResult(response: unknown, isFromBatch: boolean): unknown;
}

/**
 * Runs queries as one D1 batch (one round trip), each answer mapped as drizzle maps it. D1
 * answers a batch with rows keyed by column name, so a join whose tables share column names
 * (`id`, `account_id`…) would lose columns: a query marked `joined` is sent as
 * `SELECT * FROM (…)`, for which SQLite names every column uniquely (`id`, `id:1`…) in order,
 * and drizzle maps the row by position. Only for single-row lookups: the wrapper does not
 * promise the inner order. Other queries must name their columns distinctly (one table and
 * named subqueries, as every list here does).
 */
export async function batchReads(
  db: Database,
  items: { query: BatchItem<"sqlite">; joined?: boolean }[],
): Promise<unknown[]> {
  const prepared = items.map((i) =>
    (i.query as unknown as { _prepare(): PreparedQuery })._prepare(),
  );
  const d1 = db.$client;
  const statements = prepared.map((p, i) => {
    const { sql, params } = p.getQuery();
    return d1.prepare(items[i]!.joined ? `SELECT * FROM (${sql})` : sql).bind(...params);
  });
  const results = await d1.batch(statements);
  return results.map((r, i) => prepared[i]!.mapResult(r, true));
}

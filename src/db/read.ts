/**
 * A read declared before it runs: the statement and how its rows become the answer. Declaring
 * it lets the authentication step send it in the same D1 batch as the principal query, so an
 * authenticated read costs one round trip; run alone, it is just the statement.
 */
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "./client";

/** A bound D1 statement and how its result becomes an answer. */
export interface Statement<T = unknown> {
  statement: D1PreparedStatement;
  map(result: D1Result<Record<string, unknown>>): T;
}

export interface Read<T> {
  query: Statement;
  /**
   * The answer from the statement's mapped rows (or an AppError such as not_found). Called
   * only once the caller is authorized, so it never answers for a caller that may not read.
   */
  decode(rows: unknown): T;
}

export interface PreparedQuery {
  getQuery(): { sql: string; params: unknown[] };
  mapResult(response: unknown, isFromBatch: boolean): unknown;
}

/**
 * A drizzle query as a statement, its rows mapped as drizzle maps them. D1 answers a batch
 * with rows keyed by column name, so the query must name its columns distinctly (one table
 * and named subqueries, as every list here does).
 */
export function statementOf<Q extends BatchItem<"sqlite">>(
  db: Database,
  query: Q,
): Statement<Q["_"]["result"]> {
  const prepared = (query as unknown as { _prepare(): PreparedQuery })._prepare();
  const { sql, params } = prepared.getQuery();
  return {
    statement: db.$client.prepare(sql).bind(...params),
    map: (result) => prepared.mapResult(result, true) as Q["_"]["result"],
  };
}

export function read<R, T>(query: Statement<R>, decode: (rows: R) => T): Read<T> {
  return { query, decode: decode as (rows: unknown) => T };
}

/** A statement on its own round trip, its result mapped. */
export async function runStatement<T>(s: Statement<T>): Promise<T> {
  return s.map(await s.statement.all());
}

/** The read on its own round trip. */
export async function runRead<T>(r: Read<T>): Promise<T> {
  return r.decode(await runStatement(r.query));
}

/** Statements as one D1 batch (one round trip), each result mapped by its own statement. */
export async function batchReads(db: Database, items: Statement[]): Promise<unknown[]> {
  const results = await db.$client.batch<Record<string, unknown>>(items.map((i) => i.statement));
  return results.map((r, i) => items[i]!.map(r));
}

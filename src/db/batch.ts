/**
 * Every multi-row write is one D1 batch (one SQLite transaction, one round trip).
 * Preconditions go in as guard statements that abort the batch (see `batch_guards` in the
 * first migration), so check-and-write is atomic without interactive transactions, which
 * D1 lacks.
 *
 * Statements are drizzle query builders or raw `sql` fragments, compiled here and sent
 * with the D1 client directly: drizzle's own batch cannot carry raw SQL with parameters.
 * Writes go through `commit()` (./commit.ts), which adds their activity events.
 */
import { getTableColumns, SQL, sql, type Table } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import { AppError, ERRORS, type ErrorCode } from "../lib/errors";
import type { Database } from "./client";

export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

/** A statement as text and parameters: what crosses to the account object. */
export const Compiled = z.object({ sql: z.string().min(1), params: z.array(z.unknown()) });
export type Compiled = z.infer<typeof Compiled>;

export type Row = Record<string, string | number | null>;

/** One statement's outcome: the rows it read and the rows it changed. Plain data, so it crosses RPC. */
export interface BatchResult {
  rows: Row[];
  changes: number;
}

const dialect = new SQLiteSyncDialect();

/**
 * A statement that aborts the batch with `code` unless `condition` holds. With `field`,
 * the refusal names the input field whose ids did not match the account.
 */
export function guard(code: ErrorCode, condition: SQL, field?: string): SQL {
  const { tag } = check(code, condition, field);
  return sql`INSERT INTO batch_guards (code) SELECT ${tag} WHERE NOT (${condition})`;
}

/** A guard's condition and the refusal it stands for, to fuse with others in `guards`. */
export interface Check {
  tag: string;
  condition: SQL;
}

export const check = (code: ErrorCode, condition: SQL, field?: string): Check => ({
  tag: field ? `${code}:${field}` : code,
  condition,
});

/**
 * Several guards as one statement, refusing for the first whose condition fails, as the same
 * guards one after another would: D1 runs one statement where it ran several.
 */
export function guards(checks: Check[]): SQL {
  const cases = sql.join(
    checks.map((c) => sql`WHEN NOT (${c.condition}) THEN ${c.tag}`),
    sql` `,
  );
  return sql`INSERT INTO batch_guards (code)
    SELECT code FROM (SELECT CASE ${cases} END AS code) WHERE code IS NOT NULL`;
}

const UNIQUE_ERRORS: [RegExp, ErrorCode][] = [
  [/UNIQUE constraint failed: users\.email/, "email_taken"],
  [/UNIQUE constraint failed: groups\.account_id, groups\.name/, "group_name_taken"],
  [/UNIQUE constraint failed: sso_domains\.domain/, "sso_domain_taken"],
];

/** Maps a failed statement to the catalogue code it stands for, if any. */
function mapDbError(err: unknown): AppError | null {
  const message = String((err as Error)?.message ?? err) + String((err as Error)?.cause ?? "");
  const tagged = /guard:([a-z_]+)(?::([a-z_.]+))?/.exec(message);
  if (tagged && tagged[1]! in ERRORS) {
    const code = tagged[1] as ErrorCode;
    const field = tagged[2];
    if (!field) return new AppError(code);
    return new AppError(code, `${field} names something that does not exist in this account.`, {
      errors: [{ path: field, code: "unknown_id", message: "No such id in this account." }],
    });
  }
  for (const [pattern, code] of UNIQUE_ERRORS) if (pattern.test(message)) return new AppError(code);
  return null;
}

export function compile(statement: Statement): Compiled {
  const { sql: text, params } =
    statement instanceof SQL ? dialect.sqlToQuery(statement) : statement.toSQL();
  return { sql: text, params };
}

/** Runs compiled statements as one transaction; a guard or constraint failure becomes its AppError. */
export async function runCompiled(d1: D1Database, statements: Compiled[]): Promise<BatchResult[]> {
  if (statements.length === 0) return [];
  try {
    const results = await d1.batch(statements.map((s) => d1.prepare(s.sql).bind(...s.params)));
    return results.map((r) => ({ rows: (r.results ?? []) as Row[], changes: r.meta.changes ?? 0 }));
  } catch (err) {
    throw mapDbError(err) ?? err;
  }
}

/** The statements as one transaction. Writes call `commit()`, which adds their events. */
export function runBatch(db: Database, statements: Statement[]): Promise<BatchResult[]> {
  return runCompiled(db.$client, statements.map(compile));
}

/** A table's row, as drizzle would map it, from a batch result's raw row (keyed by column name). */
export function rowOf<T extends Table>(table: T, raw: Row): T["$inferSelect"] {
  const entries = Object.entries(getTableColumns(table)).map(([key, column]) => {
    const value = raw[column.name];
    return [key, value === null || value === undefined ? null : column.mapFromDriverValue(value)];
  });
  return Object.fromEntries(entries) as T["$inferSelect"];
}

/**
 * Every multi-row write is one D1 batch (one SQLite transaction, one round trip).
 * Preconditions go in as guard statements that abort the batch (see `batch_guards` in the
 * first migration), so check-and-write is atomic without interactive transactions, which
 * D1 lacks.
 *
 * Statements are drizzle query builders or raw `sql` fragments, compiled here and sent
 * with the D1 client directly: drizzle's own batch cannot carry raw SQL with parameters.
 */
import { SQL, sql } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { AppError, type ErrorCode } from "../lib/errors";
import type { Database } from "./client";

export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

const dialect = new SQLiteSyncDialect();

/** A statement that aborts the batch with `code` unless `condition` holds. */
export function guard(code: ErrorCode, condition: SQL): SQL {
  return sql`INSERT INTO batch_guards (code) SELECT ${code} WHERE NOT (${condition})`;
}

const UNIQUE_ERRORS: [RegExp, ErrorCode][] = [
  [/UNIQUE constraint failed: users\.email/, "email_taken"],
  [/UNIQUE constraint failed: groups\.account_id, groups\.name/, "group_name_taken"],
];

/** Maps a failed statement to the catalogue code it stands for, if any. */
export function mapDbError(err: unknown): AppError | null {
  const message = String((err as Error)?.message ?? err) + String((err as Error)?.cause ?? "");
  const guardCode = /guard:([a-z_]+)/.exec(message)?.[1];
  if (guardCode) return new AppError(guardCode as ErrorCode);
  for (const [pattern, code] of UNIQUE_ERRORS) if (pattern.test(message)) return new AppError(code);
  return null;
}

export function compile(statement: Statement): { sql: string; params: unknown[] } {
  const { sql: text, params } =
    statement instanceof SQL ? dialect.sqlToQuery(statement) : statement.toSQL();
  return { sql: text, params };
}

/** Runs the statements as one transaction; a guard or constraint failure becomes its AppError. */
export async function runBatch(db: Database, statements: Statement[]): Promise<D1Result[]> {
  if (statements.length === 0) return [];
  const d1 = db.$client;
  const prepared = statements.map((s) => {
    const { sql: text, params } = compile(s);
    return d1.prepare(text).bind(...params);
  });
  try {
    return await d1.batch(prepared);
  } catch (err) {
    throw mapDbError(err) ?? err;
  }
}

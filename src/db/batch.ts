/**
 * Every multi-row write is one `db.batch()` (one SQLite transaction). Preconditions go in
 * as guard statements that abort the batch (see `batch_guards` in the first migration), so
 * check-and-write is atomic without interactive transactions, which D1 lacks.
 */
import { sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { AppError, type ErrorCode } from "../lib/errors";
import type { Database } from "./client";

/** A statement that aborts the batch with `code` unless `condition` holds. */
export function guard(db: Database, code: ErrorCode, condition: SQL) {
  return db.run(sql`INSERT INTO batch_guards (code) SELECT ${code} WHERE NOT (${condition})`);
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

export async function runBatch<T extends [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]>(db: Database, queries: T) {
  try {
    return await db.batch(queries);
  } catch (err) {
    throw mapDbError(err) ?? err;
  }
}

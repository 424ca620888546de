import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";

export type Database = ReturnType<typeof database>;

/**
 * A drizzle client per request (in development it wraps the round-trip counter). Made
 * without the schema: with it, drizzle derives the relational-query config on every call,
 * the largest single cost of a read in the profile, for an API no code here uses.
 */
export function database(d1: D1Database) {
  return drizzle(d1);
}

/** One trivial query: whether D1 answers (for /health). */
export function ping(db: Database) {
  return db.run(sql`SELECT 1`);
}

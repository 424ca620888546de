import { drizzle } from "drizzle-orm/d1";
import { countRoundTrips } from "./round-trips";

export type Database = ReturnType<typeof drizzle>;

/**
 * Made without the schema: with it, drizzle derives the relational-query config on every
 * call, the largest single cost of a read in the profile, for an API no code here uses.
 */
const plain = new WeakMap<D1Database, Database>();
const counting = new WeakMap<D1Database, Database>();

/**
 * The drizzle client of a D1 binding, made once per isolate (a client per request was a
 * measurable share of a read's CPU). In development its round trips are counted.
 */
export function database(d1: D1Database, counted = false): Database {
  const made = counted ? counting : plain;
  let db = made.get(d1);
  if (!db) {
    db = drizzle(counted ? countRoundTrips(d1) : d1);
    made.set(d1, db);
  }
  return db;
}

/** One trivial query: whether D1 answers (for /health). */
export function ping(db: Database) {
  return db.$client.prepare("SELECT 1").first();
}

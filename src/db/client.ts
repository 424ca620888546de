import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Database = ReturnType<typeof database>;

export function database(d1: D1Database) {
  return drizzle(d1, { schema });
}

/** One trivial query: whether D1 answers (for /health). */
export function ping(db: Database) {
  return db.run(sql`SELECT 1`);
}

/** Data access for reseller partners (platform-level rows, not any account's). */
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { accounts, resellers } from "../db/schema";

export async function findReseller(db: Database, id: string) {
  const [row] = await db.select().from(resellers).where(eq(resellers.id, id));
  return row ?? null;
}

export function insertReseller(db: Database, row: typeof resellers.$inferInsert) {
  return db.insert(resellers).values(row);
}

/** True when the reseller exists (for the guard of an account created under it). */
export const resellerExists = (id: string) =>
  sql`EXISTS (SELECT 1 FROM resellers WHERE id = ${id})`;

/** Whether the account is one this reseller manages. */
export async function managesAccount(db: Database, resellerId: string, accountId: string) {
  const [row] = await db
    .select({ id: accounts.id })
    .from(accounts)
    .where(and(eq(accounts.id, accountId), eq(accounts.resellerId, resellerId)));
  return !!row;
}

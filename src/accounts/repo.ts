/** Data access for accounts, plans and resellers. */
import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { accounts, plans, resellers } from "../db/schema";

export type AccountRow = typeof accounts.$inferSelect;

export async function findAccount(db: Database, accountId: string) {
  const rows = await db
    .select({ account: accounts, plan: plans, resellerName: resellers.name })
    .from(accounts)
    .innerJoin(plans, eq(plans.id, accounts.planId))
    .leftJoin(resellers, eq(resellers.id, accounts.resellerId))
    .where(eq(accounts.id, accountId));
  return rows[0] ?? null;
}

export async function resellerName(db: Database, resellerId: string) {
  const rows = await db
    .select({ name: resellers.name })
    .from(resellers)
    .where(eq(resellers.id, resellerId));
  return rows[0]?.name ?? null;
}

export function insertAccount(db: Database, row: typeof accounts.$inferInsert) {
  return db.insert(accounts).values(row);
}

export function updateAccount(
  db: Database,
  accountId: string,
  set: Partial<typeof accounts.$inferInsert>,
) {
  return db
    .update(accounts)
    .set(set)
    .where(and(eq(accounts.id, accountId)));
}

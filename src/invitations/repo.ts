/** Data access for invitations. D1 is the truth; KV holds a short-lived index by token hash. */
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { accounts, type InvitationStatus, invitations } from "../db/schema";

export type InvitationRow = typeof invitations.$inferSelect;

/** A pending invitation past its expiry is expired, whether or not the sweep has marked it yet. */
export const effectiveStatus = (now: number) =>
  sql<InvitationStatus>`CASE WHEN ${invitations.status} = 'pending' AND ${invitations.expiresAt} <= ${now} THEN 'expired' ELSE ${invitations.status} END`;

export function listInvitations(
  db: Database,
  accountId: string,
  now: number,
  status: InvitationStatus | undefined,
  limit: number,
  after?: string,
) {
  return db
    .select()
    .from(invitations)
    .where(
      and(
        eq(invitations.accountId, accountId),
        status ? sql`${effectiveStatus(now)} = ${status}` : undefined,
        after ? gt(invitations.id, after) : undefined,
      ),
    )
    .orderBy(asc(invitations.id))
    .limit(limit + 1);
}

export async function findInvitation(db: Database, accountId: string, id: string) {
  const rows = await db
    .select()
    .from(invitations)
    .where(and(eq(invitations.accountId, accountId), eq(invitations.id, id)));
  return rows[0] ?? null;
}

/** By token digest (or by id, when the KV index knew it), with the account's name for the page. */
export async function findByToken(db: Database, tokenHash: string, id?: string) {
  const rows = await db
    .select({
      invitation: invitations,
      accountName: accounts.name,
      accountSettings: accounts.settings,
    })
    .from(invitations)
    .innerJoin(accounts, eq(accounts.id, invitations.accountId))
    .where(
      id
        ? and(eq(invitations.id, id), eq(invitations.tokenHash, tokenHash))
        : eq(invitations.tokenHash, tokenHash),
    );
  return rows[0] ?? null;
}

export function insertInvitation(db: Database, row: typeof invitations.$inferInsert) {
  return db.insert(invitations).values(row);
}

export function updateInvitation(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof invitations.$inferInsert>,
  when?: SQL,
) {
  return db
    .update(invitations)
    .set(set)
    .where(and(eq(invitations.accountId, accountId), eq(invitations.id, id), when));
}

/** True while the invitation can still be accepted with this token. */
export const acceptable = (id: string, tokenHash: string, now: number) =>
  sql`EXISTS (SELECT 1 FROM invitations WHERE id = ${id} AND token_hash = ${tokenHash} AND status = 'pending' AND expires_at > ${now})`;

/** No user anywhere has the email (emails are unique across the service). */
export const emailFree = (email: string) =>
  sql`NOT EXISTS (SELECT 1 FROM users WHERE email = ${email})`;

/** The account has no pending, unexpired invitation for the email (other than `exceptId`). */
export const noPendingInvitation = (
  accountId: string,
  email: string,
  now: number,
  exceptId?: string,
) =>
  sql`NOT EXISTS (SELECT 1 FROM invitations WHERE account_id = ${accountId} AND email = ${email} AND status = 'pending' AND expires_at > ${now} ${exceptId ? sql`AND id <> ${exceptId}` : sql``})`;

/** Pending invitations past their expiry that the sweep has not marked yet. */
export function listDue(db: Database, now: number, limit: number) {
  return db
    .select()
    .from(invitations)
    .where(and(eq(invitations.status, "pending"), sql`${invitations.expiresAt} <= ${now}`))
    .limit(limit);
}

/** Still pending and past expiry: the condition for marking it expired exactly once. */
export const stillDue = (id: string, now: number) =>
  sql`EXISTS (SELECT 1 FROM invitations WHERE id = ${id} AND status = 'pending' AND expires_at <= ${now})`;

/** Data access for invitations. D1 is the truth; KV holds a short-lived index by token hash. */
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { type Row, rowOf } from "../db/batch";
import type { Database } from "../db/client";
import { type Bindable, insertRow, once, slot } from "../db/compiled";
import { accounts, type InvitationStatus, invitations } from "../db/schema";

export type InvitationRow = typeof invitations.$inferSelect;

/** A pending invitation past its expiry is expired, whether or not the sweep has marked it yet. */
const effectiveStatus = (now: number) =>
  sql<InvitationStatus>`CASE WHEN ${invitations.status} = 'pending' AND ${invitations.expiresAt} <= ${now}
    THEN 'expired' ELSE ${invitations.status} END`;

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

/**
 * By token digest (narrowed to the id the KV index knew, if it did), with the account's
 * name for the page. Across accounts on purpose: the link's token is all the visitor has.
 */
export async function findByTokenAcrossAccounts(db: Database, tokenHash: string, id?: string) {
  const rows = await db
    .select({ invitation: invitations, accountName: accounts.name })
    .from(invitations)
    .innerJoin(accounts, eq(accounts.id, invitations.accountId))
    .where(and(eq(invitations.tokenHash, tokenHash), id ? eq(invitations.id, id) : undefined));
  return rows[0] ?? null;
}

/** A new invitation's row, every column given: written once, as every invitation runs it. */
export const insertInvitation = insertRow(invitations);

export function updateInvitation(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof invitations.$inferInsert>,
) {
  return db
    .update(invitations)
    .set(set)
    .where(and(eq(invitations.accountId, accountId), eq(invitations.id, id)));
}

/** True while the invitation can still be accepted with this token. */
export const acceptable = (accountId: string, id: string, tokenHash: string, now: number) =>
  sql`EXISTS (SELECT 1 FROM invitations WHERE account_id = ${accountId} AND id = ${id}
    AND token_hash = ${tokenHash} AND status = 'pending' AND expires_at > ${now})`;

/**
 * True while the invitation still owes the mail it owed when read (so no resend came in
 * between) and can be resent (pending or expired). The mail, not the token digest, since
 * the mail consumer changes the digest at any time.
 */
export const resendable = (accountId: string, id: string, mailId: string | null) =>
  sql`EXISTS (SELECT 1 FROM invitations WHERE account_id = ${accountId} AND id = ${id}
    AND mail_id IS ${mailId} AND status IN ('pending', 'expired'))`;

/** True while the invitation is pending and unexpired (so it can be revoked). */
export const stillPending = (accountId: string, id: string, now: number) =>
  sql`EXISTS (SELECT 1 FROM invitations WHERE account_id = ${accountId} AND id = ${id}
    AND status = 'pending' AND expires_at > ${now})`;

/**
 * The account has no pending, unexpired invitation for the email (other than `exceptId`).
 * By the email's index, named: left to choose, SQLite took the account's pending-by-expiry
 * index and read every pending invitation of the account, so each invitation cost more
 * than the one before.
 */
export const noPendingInvitation = (
  accountId: Bindable<string>,
  email: Bindable<string>,
  now: Bindable<number>,
  exceptId?: string,
) =>
  sql`NOT EXISTS (SELECT 1 FROM invitations INDEXED BY invitations_email
    WHERE email = ${email} AND status = 'pending' AND account_id = ${accountId}
      AND expires_at > ${now} ${exceptId ? sql`AND id <> ${exceptId}` : sql``})`;

/**
 * Pending invitations past their expiry that the sweep has not marked yet: across accounts
 * on purpose, for the cron.
 */
export function listDueAcrossAccounts(db: Database, now: number, limit: number) {
  return db
    .select()
    .from(invitations)
    .where(and(eq(invitations.status, "pending"), sql`${invitations.expiresAt} <= ${now}`))
    .limit(limit);
}

/** Still pending and past expiry: the condition for marking it expired exactly once. */
export const stillDue = (accountId: string, id: string, now: number) =>
  sql`EXISTS (SELECT 1 FROM invitations WHERE account_id = ${accountId} AND id = ${id}
    AND status = 'pending' AND expires_at <= ${now})`;

export function markExpired(accountId: string, id: string, now: number) {
  return sql`UPDATE invitations SET status = 'expired'
    WHERE account_id = ${accountId} AND id = ${id} AND status = 'pending' AND expires_at <= ${now}`;
}

/**
 * The accepted invitation's memberships: its groups that still exist (groups can be
 * deleted while an invitation waits), and always Members, everyone's group, even when an
 * invitation made before that rule did not name it.
 */
export function insertInvitedMemberships(
  accountId: string,
  userId: string,
  groupIds: string[],
  now: number,
) {
  const invited = sql`SELECT value FROM json_each(${JSON.stringify(groupIds)})`;
  return sql`INSERT INTO group_memberships (account_id, group_id, user_id, created_at)
    SELECT ${accountId}, id, ${userId}, ${now} FROM groups
    WHERE account_id = ${accountId} AND (id IN (${invited}) OR builtin = 'members')`;
}

/** The invitation still owes the mail `mailId`: its outcome is not yet recorded. */
const owes = (accountId: Bindable<string>, id: Bindable<string>, mailId: Bindable<string>) =>
  and(
    eq(invitations.accountId, accountId),
    eq(invitations.id, id),
    eq(invitations.mailId, mailId),
    eq(invitations.emailDelivery, "queued"),
  );

const owedMail = () => owes(slot("accountId"), slot("id"), slot("mailId"));

/**
 * Takes the mail `mailId` for an attempt: the row gets the digest of the link about to be
 * mailed, and answers itself with the names the mail shows (the account's, as
 * `account_name`, and the inviter's, as `inviter_name`). Nothing when that mail is no longer
 * owed (a resend replaced it, it was sent, the invitation was accepted, revoked or expired).
 * Compiled once, as the consumer runs it for every invitation.
 */
export const claimMail = once<{
  accountId: string;
  id: string;
  mailId: string;
  tokenHash: string;
  now: number;
}>(
  () => sql`UPDATE invitations SET token_hash = ${slot("tokenHash")}, mail_touched_at = ${slot("now")}
    WHERE ${owedMail()} AND status = 'pending' AND expires_at > ${slot("now")}
    RETURNING *,
      (SELECT a.name FROM accounts a WHERE a.id = invitations.account_id) AS account_name,
      (SELECT trim(u.first_name || ' ' || u.last_name) FROM users u
        WHERE u.account_id = invitations.account_id AND u.id = invitations.invited_by) AS inviter_name`,
);

/** An invitation from a batch's raw row. */
export const invitationOf = (raw: Row): InvitationRow => rowOf(invitations, raw);

/** True while the mail `mailId` is owed and its outcome not yet recorded. */
export const mailQueued = (accountId: string, id: string, mailId: string) =>
  sql`EXISTS (SELECT 1 FROM ${invitations} WHERE ${owes(accountId, id, mailId)})`;

/** Records the outcome of the mail `mailId`, if it is still the one owed. */
export const settleMail = once<{
  accountId: string;
  id: string;
  mailId: string;
  outcome: "sent" | "failed";
}>(() => sql`UPDATE invitations SET email_delivery = ${slot("outcome")} WHERE ${owedMail()}`);

/**
 * Mail still owed and quiet since `before` (its queue message was lost): across accounts
 * on purpose, for the cron.
 */
export function listStalledMailAcrossAccounts(
  db: Database,
  now: number,
  before: number,
  limit: number,
) {
  return db
    .select({ id: invitations.id, accountId: invitations.accountId, mailId: invitations.mailId })
    .from(invitations)
    .where(
      and(
        eq(invitations.emailDelivery, "queued"),
        sql`${invitations.mailTouchedAt} < ${before}`,
        eq(invitations.status, "pending"),
        gt(invitations.expiresAt, now),
      ),
    )
    .limit(limit);
}

/** Marks re-queued mail as touched, so the next cron run leaves it to the queue: across accounts, for the cron. */
export function touchMailAcrossAccounts(ids: string[], now: number) {
  return sql`UPDATE invitations SET mail_touched_at = ${now}
    WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)})) AND email_delivery = 'queued'`;
}

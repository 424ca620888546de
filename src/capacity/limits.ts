/**
 * Capacity as SQL conditions, for batch guards: seats used = active users + pending,
 * unexpired invitations; devices used = devices; the limit is the account's override or
 * its plan's number. Checked inside the write's own batch, so the limit holds even when
 * two writers race.
 */
import { sql } from "drizzle-orm";

const userLimit = (accountId: string) =>
  sql`(SELECT coalesce(a.user_limit, p.user_limit) FROM accounts a JOIN plans p ON p.id = a.plan_id WHERE a.id = ${accountId})`;
const deviceLimit = (accountId: string) =>
  sql`(SELECT coalesce(a.device_limit, p.device_limit) FROM accounts a JOIN plans p ON p.id = a.plan_id WHERE a.id = ${accountId})`;

export const seatsUsed = (accountId: string, now: number) =>
  sql`((SELECT count(*) FROM users WHERE account_id = ${accountId} AND status = 'active')
    + (SELECT count(*) FROM invitations WHERE account_id = ${accountId} AND status = 'pending' AND expires_at > ${now}))`;

/** True while `n` more seats fit. */
export const seatsAvailable = (accountId: string, now: number, n = 1) =>
  sql`${seatsUsed(accountId, now)} + ${n} <= ${userLimit(accountId)}`;

export const devicesAvailable = (accountId: string, n = 1) =>
  sql`(SELECT count(*) FROM devices WHERE account_id = ${accountId}) + ${n} <= ${deviceLimit(accountId)}`;

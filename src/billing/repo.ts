/** Capacity figures for Billing & Limits, in one query. */
import { sql } from "drizzle-orm";
import { activeUsers, devicesUsed, pendingInvitations } from "../capacity/repo";
import type { Database } from "../db/client";

export interface UsageRow {
  account_id: string;
  name: string;
  plan: string;
  user_limit_override: number | null;
  device_limit_override: number | null;
  user_limit: number;
  device_limit: number;
  active_users: number;
  pending_invitations: number;
  devices: number;
  reseller_id: string | null;
  reseller_name: string | null;
}

const usageSelect = (
  now: number,
) => sql`SELECT a.id AS account_id, a.name AS name, a.plan_id AS plan,
    a.user_limit AS user_limit_override, a.device_limit AS device_limit_override,
    coalesce(a.user_limit, p.user_limit) AS user_limit, coalesce(a.device_limit, p.device_limit) AS device_limit,
    ${activeUsers(sql`a.id`)} AS active_users,
    ${pendingInvitations(sql`a.id`, now)} AS pending_invitations,
    ${devicesUsed(sql`a.id`)} AS devices,
    a.reseller_id, r.name AS reseller_name
  FROM accounts a JOIN plans p ON p.id = a.plan_id LEFT JOIN resellers r ON r.id = a.reseller_id`;

export async function loadUsage(db: Database, accountId: string, now: number) {
  const rows = await db.all<UsageRow>(sql`${usageSelect(now)} WHERE a.id = ${accountId}`);
  return rows[0] ?? null;
}

/** A reseller's accounts with their usage, one page: across the accounts that reseller manages. */
export function listResellerUsageAcrossAccounts(
  db: Database,
  resellerId: string,
  now: number,
  limit: number,
  after?: string,
) {
  return db.all<UsageRow>(sql`${usageSelect(now)}
    WHERE a.reseller_id = ${resellerId} ${after ? sql`AND a.id > ${after}` : sql``}
    ORDER BY a.id LIMIT ${limit + 1}`);
}

/**
 * Capacity in SQL: seats used = active users + pending, unexpired invitations; devices
 * used = devices; the limit is the account's override or its plan's number. The account
 * object appends these rules to the batches it runs, so they hold inside the same
 * transaction as the write, even when two writers race. The counts come from
 * `account_usage`, which triggers keep exact (see its migration), so a write costs the same
 * in an account of ten users as in one of ten thousand.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Statement } from "../db/batch";
import { guard } from "../db/batch";
import { type Bindable, once, slot } from "../db/compiled";

export type LimitKind = "users" | "devices";

const limitOf = (accountId: Bindable<string>, kind: LimitKind) => {
  const column = sql.raw(kind === "users" ? "user_limit" : "device_limit");
  return sql`(SELECT coalesce(a.${column}, p.${column}) FROM accounts a JOIN plans p ON p.id = a.plan_id
    WHERE a.id = ${accountId})`;
};

/** An account: its id, or the column that holds it in an enclosing query. */
type AccountRef = Bindable<string> | SQL;

/** A count the triggers of `account_usage` keep; the rows themselves if its row is missing. */
const kept = (accountId: AccountRef, count: SQL, recount: SQL) =>
  sql`coalesce((SELECT ${count} FROM account_usage WHERE account_id = ${accountId}), ${recount})`;

export const activeUsers = (accountId: AccountRef) =>
  kept(
    accountId,
    sql`active_users`,
    sql`(SELECT count(*) FROM users WHERE account_id = ${accountId} AND status = 'active')`,
  );

/** Pending and unexpired: the kept count less those past expiry the sweep has not marked. */
export const pendingInvitations = (accountId: AccountRef, now: Bindable<number>) =>
  sql`(${kept(
    accountId,
    sql`pending_invitations`,
    sql`(SELECT count(*) FROM invitations WHERE account_id = ${accountId} AND status = 'pending')`,
  )} - (SELECT count(*) FROM invitations
       WHERE account_id = ${accountId} AND status = 'pending' AND expires_at <= ${now}))`;

export const seatsUsed = (accountId: AccountRef, now: Bindable<number>) =>
  sql`(${activeUsers(accountId)} + ${pendingInvitations(accountId, now)})`;

export const devicesUsed = (accountId: AccountRef) =>
  kept(
    accountId,
    sql`devices`,
    sql`(SELECT count(*) FROM devices WHERE account_id = ${accountId})`,
  );

/** What a limit counts: seats for users, devices for devices. */
const usedOf = (kind: LimitKind, accountId: AccountRef, now: Bindable<number>) =>
  kind === "users" ? seatsUsed(accountId, now) : devicesUsed(accountId);

const rule = (kind: LimitKind) =>
  once<{ accountId: string; now: number }>(() => {
    const accountId = slot("accountId");
    const used = usedOf(kind, accountId, slot("now"));
    return guard("capacity_exceeded", sql`${used} <= ${limitOf(accountId, kind)}`);
  });

/** Compiled once: the account's object appends one to every batch it runs. */
const rules = { users: rule("users"), devices: rule("devices") };

/** The rule, checked after the batch's writes: what is used fits within the limit. */
export function withinLimit(accountId: string, kind: LimitKind, now: number): Statement {
  return rules[kind]({ accountId, now });
}

const description = (kind: LimitKind) =>
  once<{ accountId: string; now: number }>(() => {
    const accountId = slot("accountId");
    const column = sql.raw(kind === "users" ? "user_limit" : "device_limit");
    return sql`SELECT a.plan_id AS plan, coalesce(a.${column}, p.${column}) AS "limit",
      r.name AS reseller, ${usedOf(kind, accountId, slot("now"))} AS used
    FROM accounts a JOIN plans p ON p.id = a.plan_id LEFT JOIN resellers r ON r.id = a.reseller_id
    WHERE a.id = ${accountId}`;
  });

/** Compiled once: the account's object reads one with every batch it runs. */
const descriptions = { users: description("users"), devices: description("devices") };

/**
 * What is used against the limit now, with the plan, the limit and the reseller (to say
 * whom to ask when a write is refused).
 */
export function describeLimit(accountId: string, kind: LimitKind, now: number): Statement {
  return descriptions[kind]({ accountId, now });
}

export interface LimitChange {
  plan?: string;
  /** null clears the override, so the plan's number applies again. */
  userLimit?: number | null;
  deviceLimit?: number | null;
}

/**
 * A plan or override change, refused (`limit_below_usage`) when the new limits fall below
 * what is used. What the change leaves alone is read from the row inside the batch: a
 * concurrent change to another field, serialized ahead of this one, must not be undone.
 */
export function limitChange(accountId: string, change: LimitChange, now: number): Statement[] {
  const current = (column: "plan_id" | "user_limit" | "device_limit") =>
    sql`(SELECT ${sql.identifier(column)} FROM accounts WHERE id = ${accountId})`;
  const plan = change.plan !== undefined ? sql`${change.plan}` : current("plan_id");
  const next = (value: number | null | undefined, column: "user_limit" | "device_limit") =>
    sql`coalesce(${value !== undefined ? sql`${value}` : current(column)},
      (SELECT ${sql.identifier(column)} FROM plans WHERE id = ${plan}))`;
  const set: SQL[] = [sql`updated_at = ${now}`];
  if (change.plan !== undefined) set.push(sql`plan_id = ${change.plan}`);
  if (change.userLimit !== undefined) set.push(sql`user_limit = ${change.userLimit}`);
  if (change.deviceLimit !== undefined) set.push(sql`device_limit = ${change.deviceLimit}`);
  return [
    guard(
      "limit_below_usage",
      sql`${seatsUsed(accountId, now)} <= ${next(change.userLimit, "user_limit")}`,
    ),
    guard(
      "limit_below_usage",
      sql`${devicesUsed(accountId)} <= ${next(change.deviceLimit, "device_limit")}`,
    ),
    sql`UPDATE accounts SET ${sql.join(set, sql`, `)} WHERE id = ${accountId}`,
  ];
}

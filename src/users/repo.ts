/** Data access for users. Every function takes the account id first. */
import { and, eq, sql } from "drizzle-orm";
import { guard } from "../db/batch";
import type { Database } from "../db/client";
import { type Bindable, columnsOf, valuesOf } from "../db/compiled";
import { runStatement, type Statement } from "../db/read";
import { type CreatedVia, users } from "../db/schema";

export type UserRow = typeof users.$inferSelect;

interface NewUser {
  id: string;
  accountId: string;
  email: string;
  firstName: string;
  lastName: string;
  passwordHash: string | null;
  createdVia: CreatedVia;
  createdBy: string | null;
  now: number;
  mustChangePassword?: boolean;
  emailVerifiedAt?: number | null;
  status?: "active" | "disabled";
  externalId?: string | null;
}

/** A new user's whole row (active unless said otherwise): every way of adding a user starts here. */
export function newUserRow(u: NewUser): UserRow {
  return {
    id: u.id,
    accountId: u.accountId,
    email: u.email,
    pendingEmail: null,
    firstName: u.firstName,
    lastName: u.lastName,
    passwordHash: u.passwordHash,
    mustChangePassword: u.mustChangePassword ?? false,
    status: u.status ?? "active",
    createdVia: u.createdVia,
    createdBy: u.createdBy,
    emailVerifiedAt: u.emailVerifiedAt ?? null,
    createdAt: u.now,
    updatedAt: u.now,
    lastLoginAt: null,
    lastLoginIp: null,
    lastLoginMethod: null,
    externalId: u.externalId ?? null,
  };
}

/**
 * Refuses (409 `email_taken`) when any user of any account has the email, other than
 * `exceptUserId`: across accounts on purpose, since an email is unique service-wide.
 */
export function guardEmailFreeAcrossAccounts(email: string, exceptUserId?: string) {
  return guard("email_taken", emailFreeAcrossAccounts(email, exceptUserId));
}

/** No user of any account has the email (other than `exceptUserId`). */
export function emailFreeAcrossAccounts(email: Bindable<string>, exceptUserId?: string) {
  const other = exceptUserId ? sql`AND id <> ${exceptUserId}` : sql``;
  return sql`NOT EXISTS (SELECT 1 FROM users WHERE email = ${email} ${other})`;
}

/**
 * A user row with its group ids, written once: the users list is a hot read, and drizzle
 * built this SELECT and mapped its fifty rows column by column on every request.
 */
const user = columnsOf(users, "u");
const WITH_GROUPS = `SELECT ${user.list},
  (SELECT json_group_array(group_id) FROM (SELECT m.group_id FROM group_memberships m
    WHERE m.account_id = u.account_id AND m.user_id = u.id ORDER BY m.group_id)) AS group_ids
  FROM users u`;

export interface UserWithGroups {
  user: UserRow;
  groupIds: string[];
}

function withGroups(row: Record<string, unknown>): UserWithGroups {
  const values = valuesOf(row);
  return { user: user.decode(values, 0), groupIds: JSON.parse(values[user.width] as string) };
}

const usersWithGroups = (
  db: Database,
  where: string,
  params: unknown[],
): Statement<UserWithGroups[]> => ({
  statement: db.$client.prepare(`${WITH_GROUPS} WHERE ${where}`).bind(...params),
  map: (result) => result.results.map(withGroups),
});

/** `%` and `_` in a search are literal. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

export interface UserFilter {
  q?: string;
  groupId?: string;
  status?: "active" | "disabled";
}

/** A page of the account's users (`limit + 1` rows, by id, after the cursor's id): the query alone. */
export function listUsersQuery(
  db: Database,
  accountId: string,
  filter: UserFilter,
  limit: number,
  after?: string,
) {
  const conditions = ["u.account_id = ?"];
  const params: unknown[] = [accountId];
  const where = (condition: string, ...values: unknown[]) => {
    conditions.push(condition);
    params.push(...values);
  };
  if (after) where("u.id > ?", after);
  if (filter.status) where("u.status = ?", filter.status);
  if (filter.groupId) {
    where(
      "EXISTS (SELECT 1 FROM group_memberships m WHERE m.user_id = u.id AND m.group_id = ?)",
      filter.groupId,
    );
  }
  if (filter.q) {
    // SQLite folds case for ASCII only: lower-cased in JS, the pattern finds emails (stored
    // lower-cased) and any-case ASCII; as typed, it also finds names like "Émile" as written.
    const folded = `%${escapeLike(filter.q.toLowerCase())}%`;
    const typed = `%${escapeLike(filter.q)}%`;
    const columns = [
      "u.email",
      "u.first_name",
      "u.last_name",
      "u.first_name || ' ' || u.last_name",
    ];
    where(
      `(${columns.map((c) => `lower(${c}) LIKE ? ESCAPE '\\' OR ${c} LIKE ? ESCAPE '\\'`).join(" OR ")})`,
      ...columns.flatMap(() => [folded, typed]),
    );
  }
  params.push(limit + 1);
  return usersWithGroups(db, `${conditions.join(" AND ")} ORDER BY u.id LIMIT ?`, params);
}

/**
 * The user with the email, and its account's name. Across accounts on purpose: an email is
 * unique service-wide, and it is all a self-service reset presents.
 */
export async function findByEmailAcrossAccounts(db: Database, email: string) {
  const accountName = sql<string>`(SELECT name FROM accounts WHERE id = ${users.accountId})`;
  const [row] = await db
    .select({ user: users, accountName })
    .from(users)
    .where(eq(users.email, email));
  return row ?? null;
}

export function findUserQuery(db: Database, accountId: string, id: string) {
  return usersWithGroups(db, "u.account_id = ? AND u.id = ?", [accountId, id]);
}

export async function findUser(db: Database, accountId: string, id: string) {
  const query = findUserQuery(db, accountId, id);
  return (await runStatement(query))[0] ?? null;
}

export function insertUser(db: Database, row: typeof users.$inferInsert) {
  return db.insert(users).values(row);
}

export function updateUser(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof users.$inferInsert>,
) {
  return db
    .update(users)
    .set(set)
    .where(and(eq(users.accountId, accountId), eq(users.id, id)));
}

/** True while the user's pending email is still this one (a newer request replaces it). */
export function hasPendingEmail(accountId: string, id: string, email: string) {
  return sql`EXISTS (SELECT 1 FROM users
    WHERE account_id = ${accountId} AND id = ${id} AND pending_email = ${email})`;
}

/** Clears a pending email; leaves `updated_at` alone when there was none. */
export function clearPendingEmail(accountId: string, id: string, now: number) {
  return sql`UPDATE users SET pending_email = NULL, updated_at = ${now}
    WHERE account_id = ${accountId} AND id = ${id} AND pending_email IS NOT NULL`;
}

export function deleteUser(db: Database, accountId: string, id: string) {
  return db.delete(users).where(and(eq(users.accountId, accountId), eq(users.id, id)));
}

const adminGroup = (accountId: string) =>
  sql`(SELECT id FROM groups WHERE account_id = ${accountId} AND builtin = 'administrators')`;

/**
 * True unless the change would leave the account without an active administrator:
 * either `userId` is not one now, or another active one remains. Evaluated inside the
 * batch, so two admins demoting each other at once cannot both succeed.
 */
export function anotherAdministratorRemains(accountId: string, userId: string) {
  return sql`(NOT EXISTS (SELECT 1 FROM group_memberships m JOIN users u ON u.id = m.user_id
      WHERE m.account_id = ${accountId} AND m.group_id = ${adminGroup(accountId)}
        AND u.id = ${userId} AND u.status = 'active')
    OR EXISTS (SELECT 1 FROM group_memberships m JOIN users u ON u.id = m.user_id
      WHERE m.account_id = ${accountId} AND m.group_id = ${adminGroup(accountId)}
        AND u.id <> ${userId} AND u.status = 'active'))`;
}

/** For a user's new groups: they include Administrators, or another administrator remains. */
export function includesAdministratorsOrAnotherRemains(
  accountId: string,
  userId: string,
  groupIds: string[],
) {
  const includes = sql`${adminGroup(accountId)} IN (SELECT value FROM json_each(${JSON.stringify(groupIds)}))`;
  return sql`(${includes} OR ${anotherAdministratorRemains(accountId, userId)})`;
}

/** Active users who never logged in, or not since `before`. */
export async function listInactiveUsers(
  db: Database,
  accountId: string,
  before: number,
  limit: number,
  after?: string,
) {
  const afterCursor = after ? " AND u.id > ?" : "";
  const query = usersWithGroups(
    db,
    `u.account_id = ? AND u.status = 'active' AND (u.last_login_at IS NULL OR u.last_login_at < ?)${afterCursor}
      ORDER BY u.id LIMIT ?`,
    [accountId, before, ...(after ? [after] : []), limit + 1],
  );
  return runStatement(query);
}

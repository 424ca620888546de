/** Data access for users. Every function takes the account id first. */
import { and, asc, eq, gt, or, type SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { guard } from "../db/batch";
import type { Database } from "../db/client";
import { type CreatedVia, groupMemberships, users } from "../db/schema";

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
  const other = exceptUserId ? sql`AND id <> ${exceptUserId}` : sql``;
  return guard(
    "email_taken",
    sql`NOT EXISTS (SELECT 1 FROM users WHERE email = ${email} ${other})`,
  );
}

const groupIdsOf = sql<string>`(SELECT json_group_array(group_id) FROM (SELECT m.group_id
  FROM group_memberships m WHERE m.account_id = ${users.accountId} AND m.user_id = ${users.id}
  ORDER BY m.group_id))`;

function withGroups(db: Database) {
  return db.select({ user: users, groupIds: groupIdsOf }).from(users);
}

const parse = (r: { user: UserRow; groupIds: string }) => ({
  user: r.user,
  groupIds: JSON.parse(r.groupIds) as string[],
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
  const conditions: (SQL | undefined)[] = [eq(users.accountId, accountId)];
  if (after) conditions.push(gt(users.id, after));
  if (filter.status) conditions.push(eq(users.status, filter.status));
  if (filter.groupId) {
    conditions.push(
      sql`EXISTS (SELECT 1 FROM ${groupMemberships} m WHERE m.user_id = ${users.id} AND m.group_id = ${filter.groupId})`,
    );
  }
  if (filter.q) {
    // SQLite folds case for ASCII only: lower-cased in JS, the pattern finds emails (stored
    // lower-cased) and any-case ASCII; as typed, it also finds names like "Émile" as written.
    const folded = `%${escapeLike(filter.q.toLowerCase())}%`;
    const typed = `%${escapeLike(filter.q)}%`;
    const match = (col: SQL | AnySQLiteColumn) =>
      sql`(lower(${col}) LIKE ${folded} ESCAPE '\\' OR ${col} LIKE ${typed} ESCAPE '\\')`;
    conditions.push(
      or(
        match(users.email),
        match(users.firstName),
        match(users.lastName),
        match(sql`${users.firstName} || ' ' || ${users.lastName}`),
      ),
    );
  }
  return withGroups(db)
    .where(and(...conditions))
    .orderBy(asc(users.id))
    .limit(limit + 1);
}

export const usersFromRows = (rows: { user: UserRow; groupIds: string }[]) => rows.map(parse);

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
  return withGroups(db).where(and(eq(users.accountId, accountId), eq(users.id, id)));
}

export const userFromRows = (rows: { user: UserRow; groupIds: string }[]) =>
  rows[0] ? parse(rows[0]) : null;

export async function findUser(db: Database, accountId: string, id: string) {
  return userFromRows(await findUserQuery(db, accountId, id));
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
  const rows = await withGroups(db)
    .where(
      and(
        eq(users.accountId, accountId),
        eq(users.status, "active"),
        or(sql`${users.lastLoginAt} IS NULL`, sql`${users.lastLoginAt} < ${before}`),
        after ? gt(users.id, after) : undefined,
      ),
    )
    .orderBy(asc(users.id))
    .limit(limit + 1);
  return rows.map(parse);
}

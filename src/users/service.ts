/** Users of an account: list, get, manual creation, changes, memberships, deletion. */
import { by, type EventInput } from "../activity/record";
import { endCredentials } from "../auth/credentials";
import { authorityOf } from "../authz/delegation";
import { groupsWithin, userWithin } from "../authz/repo";
import type { AuthedCtx } from "../context";
import { guard, type Statement } from "../db/batch";
import type { Database } from "../db/client";
import { commit, commitTaking } from "../db/commit";
import { read, runRead } from "../db/read";
import * as groupsRepo from "../groups/repo";
import { decodeCursor, toPage } from "../lib/cursor";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { dropPendingEmail, emailChangeStatements } from "../lifecycle/email-change";
import { toUserDto } from "./dto";
import * as repo from "./repo";

/**
 * A page of the account's users, as a read: built from the account id alone, so it can go
 * in the principal's D1 batch (src/http/preload.ts).
 */
export function usersPage(
  db: Database,
  accountId: string,
  filter: repo.UserFilter,
  limit: number,
  cursor?: string,
) {
  return read(repo.listUsersQuery(db, accountId, filter, limit, decodeCursor(cursor)), (rows) =>
    toPage(
      rows,
      limit,
      (r) => toUserDto(r.user, r.groupIds),
      (r) => r.user.id,
    ),
  );
}

const existingUser = <T>(found: T | null) => {
  if (!found) throw new AppError("not_found", "No such user.");
  return found;
};

/** One user of the account with its group ids, as a read; 404 when the account has no such user. */
export function userById(db: Database, accountId: string, id: string) {
  return read(repo.findUserQuery(db, accountId, id), (rows) => existingUser(rows[0] ?? null));
}

export async function getUser(ctx: AuthedCtx, id: string) {
  return runRead(userById(ctx.db, ctx.principal.accountId, id));
}

const userEvent = (
  ctx: AuthedCtx,
  type: EventInput["type"],
  userId: string,
  metadata?: Record<string, unknown>,
): EventInput => ({ type, ...by(ctx.principal), subject: { type: "user", id: userId }, metadata });

interface CreateUserInput {
  email: string;
  first_name: string;
  last_name: string;
  password: string;
  group_ids?: string[];
  must_change_password?: boolean;
}

/** The groups asked for, and always Members: it is everyone's baseline group. */
export const withMembers = (ctx: AuthedCtx, groupIds: string[] = []) => [
  ...new Set([...groupIds, ctx.principal.membersGroupId]),
];

/**
 * The change that creates an active user with a password, guards first: the groups belong
 * to the account and lie within the caller's authority, and the email is free. The last
 * statement reads back the user's group ids. It takes a seat: commit it with `commitTaking`.
 */
export async function userCreation(
  ctx: AuthedCtx,
  input: CreateUserInput,
  createdVia: "manual" | "import",
) {
  const { db, now, principal, config } = ctx;
  const { accountId } = principal;
  const email = normalizeEmail(input.email);
  checkPasswordPolicy(input.password, { email, accountName: principal.account.name });
  const groupIds = withMembers(ctx, input.group_ids);
  const user = repo.newUserRow({
    id: newId("user"),
    accountId,
    email,
    firstName: input.first_name,
    lastName: input.last_name,
    passwordHash: await hashPassword(input.password, config.passwords),
    mustChangePassword: input.must_change_password,
    createdVia,
    createdBy: principal.userId,
    now,
  });
  const authority = authorityOf(principal.grants);
  const statements: Statement[] = [
    guard("validation_failed", groupsRepo.allGroupsExist(accountId, groupIds), "group_ids"),
    guard("permission_not_held", groupsWithin(accountId, authority, groupIds)),
    repo.guardEmailFreeAcrossAccounts(email),
    repo.insertUser(db, user),
    groupsRepo.insertMemberships(accountId, user.id, groupIds, now),
    groupsRepo.selectGroupIdsOf(accountId, user.id),
  ];
  const events = [
    userEvent(ctx, "user.created", user.id, {
      created_via: createdVia,
      created_by: principal.userId,
      email,
      group_ids: groupIds,
    }),
  ];
  return { user, statements, events };
}

const takesSeat = (ctx: AuthedCtx) =>
  ({ kind: "seat", accountId: ctx.principal.accountId, by: by(ctx.principal) }) as const;

/** Manual creation: active at once, can log in immediately; consumes a seat. */
export async function createUser(ctx: AuthedCtx, input: CreateUserInput) {
  const { user, statements, events } = await userCreation(ctx, input, "manual");
  const results = await commitTaking(ctx, takesSeat(ctx), statements, events);
  return { user, groupIds: groupsRepo.groupIdsFromResult(results.at(-1)!) };
}

interface UpdateUserInput {
  email?: string;
  first_name?: string;
  last_name?: string;
  status?: "active" | "disabled";
}

export async function updateUser(ctx: AuthedCtx, id: string, input: UpdateUserInput) {
  const { db, now, principal } = ctx;
  const { accountId } = principal;
  const current = await getUser(ctx, id);
  const names = {
    ...(input.first_name !== undefined ? { firstName: input.first_name } : {}),
    ...(input.last_name !== undefined ? { lastName: input.last_name } : {}),
  };
  const statusChange =
    input.status !== undefined && input.status !== current.user.status ? input.status : undefined;
  const events: EventInput[] = [];
  if (Object.keys(names).length > 0) {
    const changes = { first_name: input.first_name, last_name: input.last_name };
    events.push(userEvent(ctx, "user.updated", id, { changes }));
  }
  if (statusChange) {
    events.push(userEvent(ctx, statusChange === "disabled" ? "user.disabled" : "user.enabled", id));
  }
  const emailChange =
    input.email !== undefined ? await emailChangeStatements(ctx, current.user, input.email) : null;
  events.push(...(emailChange?.events ?? []));
  if (events.length === 0 && !emailChange?.statements.length) return current;
  const authority = authorityOf(principal.grants);
  const disabling = statusChange === "disabled";
  const dropped = disabling ? dropPendingEmail(ctx, current.user, "disabled", by(principal)) : null;
  events.push(...(dropped?.events ?? []));
  // Renaming someone who holds more than the caller is acting above it, like changing their status.
  const actsOnThem = statusChange !== undefined || Object.keys(names).length > 0;
  const statements: Statement[] = [
    ...(actsOnThem ? [guard("permission_not_held", userWithin(accountId, authority, id))] : []),
    ...(disabling
      ? [guard("last_administrator", repo.anotherAdministratorRemains(accountId, id))]
      : []),
    repo.updateUser(db, accountId, id, {
      ...names,
      ...(statusChange ? { status: statusChange } : {}),
      updatedAt: now,
    }),
    ...(emailChange?.statements ?? []),
    // Disabling ends every session and API token at once, and a change of address they asked for.
    ...(disabling ? [...endCredentials(db, accountId, id, now), ...dropped!.statements] : []),
  ];
  // Enabling takes a seat, so it runs in the account's object like every seat-taking write.
  if (statusChange === "active") await commitTaking(ctx, takesSeat(ctx), statements, events);
  else await commit(ctx, statements, events);
  await emailChange?.after();
  return (await repo.findUser(db, accountId, id))!;
}

export async function replaceGroups(ctx: AuthedCtx, id: string, groupIds: string[]) {
  const { db, now, principal } = ctx;
  const { accountId } = principal;
  const current = await getUser(ctx, id);
  // Members is everyone's group: whatever the body says, the user stays in it.
  const next = withMembers(ctx, groupIds);
  const authority = authorityOf(principal.grants);
  await commit(
    ctx,
    [
      guard("validation_failed", groupsRepo.allGroupsExist(accountId, next), "group_ids"),
      guard("permission_not_held", userWithin(accountId, authority, id)),
      guard("permission_not_held", groupsWithin(accountId, authority, next)),
      guard("last_administrator", repo.includesAdministratorsOrAnotherRemains(accountId, id, next)),
      groupsRepo.deleteMemberships(db, accountId, id),
      groupsRepo.insertMemberships(accountId, id, next, now),
      repo.updateUser(db, accountId, id, { updatedAt: now }),
    ],
    [userEvent(ctx, "user.groups_changed", id, { from: current.groupIds, to: next })],
  );
  return (await repo.findUser(db, accountId, id))!;
}

/** Deletes the user; memberships, sessions and API tokens go with it; activity is kept. */
export async function deleteUser(ctx: AuthedCtx, id: string) {
  const { db, principal } = ctx;
  const { accountId } = principal;
  const current = await getUser(ctx, id);
  await commit(
    ctx,
    [
      guard("permission_not_held", userWithin(accountId, authorityOf(principal.grants), id)),
      guard("last_administrator", repo.anotherAdministratorRemains(accountId, id)),
      repo.deleteUser(db, accountId, id),
    ],
    [userEvent(ctx, "user.deleted", id, { email: current.user.email })],
  );
}

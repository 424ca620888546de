/** Users of an account (API.md, "Users"): list, get, manual creation, changes, memberships, deletion. */
import { sql } from "drizzle-orm";
import { actorOf, buildEvent, type EventInput, insertEvent, publish } from "../activity/record";
import { normalizeEmail } from "../auth/service";
import { revokeUserSessions } from "../auth/session-repo";
import { authorityOf, groupsWithin, userWithin } from "../authz/delegation";
import { actingAs, consumeCapacity } from "../capacity/consume";
import { seatsAvailable } from "../capacity/limits";
import type { AuthedCtx } from "../context";
import { guard, runBatch, type Statement } from "../db/batch";
import * as groupsRepo from "../groups/repo";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { emailChangeStatements } from "../lifecycle/email-change";
import { toUserDto } from "./dto";
import * as repo from "./repo";

export async function listUsers(
  ctx: AuthedCtx,
  filter: repo.UserFilter,
  limit: number,
  cursor?: string,
) {
  const rows = await repo.listUsers(
    ctx.db,
    ctx.principal.accountId,
    filter,
    limit,
    decodeCursor(cursor),
  );
  return toPage(
    rows,
    limit,
    (r) => toUserDto(r.user, r.groupIds),
    (r) => r.user.id,
  );
}

export async function getUser(ctx: AuthedCtx, id: string) {
  const found = await repo.findUser(ctx.db, ctx.principal.accountId, id);
  if (!found) throw new AppError("not_found", "No such user.");
  return found;
}

const userEvent = (
  ctx: AuthedCtx,
  type: EventInput["type"],
  userId: string,
  metadata?: Record<string, unknown>,
) =>
  buildEvent(ctx, {
    type,
    accountId: ctx.principal.accountId,
    actor: actorOf(ctx.principal),
    subject: { type: "user", id: userId },
    method: ctx.principal.method,
    metadata,
  });

export interface CreateUserInput {
  email: string;
  first_name: string;
  last_name: string;
  password: string;
  group_ids?: string[];
  must_change_password?: boolean;
}

/**
 * The statements that create an active user with a password, guards first: the groups
 * belong to the account and lie within the caller's authority, the email is free, a seat
 * is free. The last statement reads back the user's group ids.
 */
export async function userCreationStatements(
  ctx: AuthedCtx,
  input: CreateUserInput,
  createdVia: "manual" | "import",
) {
  const { db, now, principal, env } = ctx;
  const email = normalizeEmail(input.email);
  checkPasswordPolicy(input.password, { email, accountName: principal.account.name });
  const groupIds = input.group_ids?.length ? [...new Set(input.group_ids)] : null;
  const id = newId("user");
  const user = {
    id,
    accountId: principal.accountId,
    email,
    pendingEmail: null,
    firstName: input.first_name,
    lastName: input.last_name,
    passwordHash: await hashPassword(input.password, env.PASSWORD_PEPPER),
    mustChangePassword: input.must_change_password ?? false,
    status: "active" as const,
    createdVia,
    createdBy: principal.userId,
    emailVerifiedAt: null,
    createdAt: now,
    updatedAt: now,
    lastLoginAt: null,
    lastLoginIp: null,
    lastLoginMethod: null,
  };
  const event = userEvent(ctx, "user.created", id, {
    created_via: createdVia,
    created_by: principal.userId,
    email,
    group_ids: groupIds ?? "members",
  });
  const statements: Statement[] = [
    ...(groupIds
      ? [guard("validation_failed", groupsRepo.allGroupsExist(principal.accountId, groupIds))]
      : []),
    guard(
      "permission_not_held",
      groupsWithin(
        authorityOf(principal.grants),
        groupIds ?? groupsRepo.builtinGroupId(principal.accountId, "members"),
      ),
    ),
    guard("email_taken", sql`NOT EXISTS (SELECT 1 FROM users WHERE email = ${email})`),
    guard("capacity_exceeded", seatsAvailable(principal.accountId, now)),
    repo.insertUser(db, user),
    groupIds
      ? groupsRepo.insertMemberships(db, principal.accountId, id, groupIds, now)
      : groupsRepo.insertBuiltinMembership(principal.accountId, id, "members", now),
    insertEvent(db, event),
    groupsRepo.selectGroupIdsOf(id),
  ];
  return { user, event, statements };
}

/** Manual creation: active at once, can log in immediately; consumes a seat. */
export async function createUser(ctx: AuthedCtx, input: CreateUserInput) {
  const { user, event, statements } = await userCreationStatements(ctx, input, "manual");
  const results = await consumeCapacity(
    ctx,
    ctx.principal.accountId,
    "users",
    statements,
    actingAs(ctx.principal),
  ).catch(explainGuard);
  publish(ctx, [event]);
  return { user, groupIds: groupsRepo.groupIdsFromResult(results.at(-1)!) };
}

/** Turns guard failures into answers that say which input was wrong. */
export function explainGuard(err: unknown): never {
  if (err instanceof AppError && err.code === "validation_failed" && !err.extra.errors) {
    throw new AppError(
      "validation_failed",
      "group_ids names a group that does not exist in this account.",
      {
        errors: [{ path: "group_ids", code: "unknown_id", message: "Unknown group." }],
      },
    );
  }
  throw err;
}

export interface UpdateUserInput {
  email?: string;
  first_name?: string;
  last_name?: string;
  status?: "active" | "disabled";
}

export async function updateUser(ctx: AuthedCtx, id: string, input: UpdateUserInput) {
  const { db, now, principal } = ctx;
  const current = await getUser(ctx, id);
  const names = {
    ...(input.first_name !== undefined ? { firstName: input.first_name } : {}),
    ...(input.last_name !== undefined ? { lastName: input.last_name } : {}),
  };
  const statusChange =
    input.status !== undefined && input.status !== current.user.status ? input.status : undefined;
  const events = [];
  if (Object.keys(names).length > 0)
    events.push(
      userEvent(ctx, "user.updated", id, {
        changes: { first_name: input.first_name, last_name: input.last_name },
      }),
    );
  if (statusChange)
    events.push(userEvent(ctx, statusChange === "disabled" ? "user.disabled" : "user.enabled", id));
  const emailChange =
    input.email !== undefined ? await emailChangeStatements(ctx, current.user, input.email) : null;
  events.push(...(emailChange?.events ?? []));
  if (events.length === 0 && !emailChange?.statements.length) return current;
  // Enabling takes a seat, so it runs in the account's object like every seat-consuming write.
  const run = (statements: Statement[]) =>
    statusChange === "active"
      ? consumeCapacity(ctx, principal.accountId, "users", statements, actingAs(principal))
      : runBatch(db, statements);
  await run([
    ...(statusChange
      ? [guard("permission_not_held", userWithin(authorityOf(principal.grants), id))]
      : []),
    ...(statusChange === "disabled"
      ? [guard("last_administrator", repo.anotherAdministratorRemains(principal.accountId, id))]
      : []),
    ...(statusChange === "active"
      ? [guard("capacity_exceeded", seatsAvailable(principal.accountId, now))]
      : []),
    repo.updateUser(db, principal.accountId, id, {
      ...names,
      ...(statusChange ? { status: statusChange } : {}),
      updatedAt: now,
    }),
    // Disabling ends every session at once; API tokens stop because their owner is checked on use.
    ...(statusChange === "disabled" ? [revokeUserSessions(db, principal.accountId, id, now)] : []),
    ...events.filter((e) => !emailChange?.events.includes(e)).map((e) => insertEvent(db, e)),
    ...(emailChange?.statements ?? []),
  ]).catch(explainGuard);
  publish(ctx, events);
  await emailChange?.after();
  return (await repo.findUser(db, principal.accountId, id))!;
}

export async function replaceGroups(ctx: AuthedCtx, id: string, groupIds: string[]) {
  const { db, now, principal } = ctx;
  const current = await getUser(ctx, id);
  const next = [...new Set(groupIds)];
  const event = userEvent(ctx, "user.groups_changed", id, { from: current.groupIds, to: next });
  await runBatch(db, [
    guard("validation_failed", groupsRepo.allGroupsExist(principal.accountId, next)),
    guard(
      "permission_not_held",
      sql`${userWithin(authorityOf(principal.grants), id)} AND ${groupsWithin(authorityOf(principal.grants), next)}`,
    ),
    guard(
      "last_administrator",
      sql`(${repo.includesAdministrators(principal.accountId, next)} OR ${repo.anotherAdministratorRemains(principal.accountId, id)})`,
    ),
    groupsRepo.deleteMemberships(db, principal.accountId, id),
    groupsRepo.insertMemberships(db, principal.accountId, id, next, now),
    repo.updateUser(db, principal.accountId, id, { updatedAt: now }),
    insertEvent(db, event),
  ]).catch(explainGuard);
  publish(ctx, [event]);
  return (await repo.findUser(db, principal.accountId, id))!;
}

/** Deletes the user; memberships, sessions and API tokens go with it; activity is kept. */
export async function deleteUser(ctx: AuthedCtx, id: string) {
  const { db, principal } = ctx;
  const current = await getUser(ctx, id);
  const event = userEvent(ctx, "user.deleted", id, { email: current.user.email });
  await runBatch(db, [
    guard("permission_not_held", userWithin(authorityOf(principal.grants), id)),
    guard("last_administrator", repo.anotherAdministratorRemains(principal.accountId, id)),
    repo.deleteUser(db, principal.accountId, id),
    insertEvent(db, event),
  ]);
  publish(ctx, [event]);
}

/**
 * Users over SCIM. The identity provider is authoritative: an email change applies at
 * once, `active:false` disables like an administrator would (sessions and API tokens end,
 * the seat is freed) and `active:true` takes a seat again. The rules that protect the
 * account still hold: the email is unique service-wide, the last administrator stays.
 */
import type { EventInput } from "../activity/record";
import { endCredentials } from "../auth/credentials";
import { authorityOf } from "../authz/delegation";
import { loadUserGrants, userWithin } from "../authz/repo";
import type { ScimCtx, UserRow } from "../context";
import { guard, type Statement } from "../db/batch";
import { commit, commitTaking } from "../db/commit";
import { insertMemberships } from "../groups/repo";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { dropPendingEmail } from "../lifecycle/email-change";
import { supersedeTokens } from "../user-tokens/tokens";
import * as usersRepo from "../users/repo";
import { byScim } from "./auth";
import { userFilter } from "./filter";
import { patchOperations } from "./patch";
import { listResponse, type Paging, toScimUser } from "./resources";
import {
  applyUserOp,
  fieldsOf,
  stateFromBody,
  type UserFields,
  type UserState,
} from "./user-model";
import * as repo from "./user-repo";

export async function listScimUsers(ctx: ScimCtx, filter: string | undefined, page: Paging) {
  const { accountId } = ctx.scim;
  const where = userFilter(filter);
  const [found, total] = await Promise.all([
    repo.listScimUsers(ctx.db, accountId, where, page.startIndex - 1, page.count),
    repo.countScimUsers(ctx.db, accountId, where),
  ]);
  return listResponse(
    found.map((r) => toScimUser(ctx, r)),
    total,
    page,
  );
}

async function findOrThrow(ctx: ScimCtx, id: string) {
  const found = await repo.findScimUser(ctx.db, ctx.scim.accountId, id);
  if (!found) throw new AppError("not_found", "No such user.");
  return found;
}

export async function getScimUser(ctx: ScimCtx, id: string) {
  return toScimUser(ctx, await findOrThrow(ctx, id));
}

const userEvent = (
  ctx: ScimCtx,
  type: EventInput["type"],
  userId: string,
  metadata?: Record<string, unknown>,
): EventInput => ({ type, ...byScim(ctx.scim), subject: { type: "user", id: userId }, metadata });

const takesSeat = (ctx: ScimCtx) =>
  ({ kind: "seat", accountId: ctx.scim.accountId, by: byScim(ctx.scim) }) as const;

/**
 * A user provisioned by the identity provider: no password (they sign in through it),
 * in Members like everyone, active unless the body says otherwise — and then holding a seat.
 */
export async function createScimUser(ctx: ScimCtx, body: Record<string, unknown>) {
  const { db, now, scim } = ctx;
  const fields = fieldsOf(stateFromBody(body));
  const user = usersRepo.newUserRow({
    id: newId("user"),
    accountId: scim.accountId,
    email: fields.email,
    firstName: fields.firstName,
    lastName: fields.lastName,
    passwordHash: null,
    createdVia: "scim",
    createdBy: null,
    now,
    // The identity provider vouches for the address it provisions.
    emailVerifiedAt: now,
    status: fields.active ? "active" : "disabled",
    externalId: fields.externalId,
  });
  const statements = [
    usersRepo.guardEmailFreeAcrossAccounts(user.email),
    usersRepo.insertUser(db, user),
    insertMemberships(scim.accountId, user.id, [scim.membersGroupId], now),
  ];
  const events = [
    userEvent(ctx, "user.created", user.id, {
      created_via: "scim",
      email: user.email,
      external_id: user.externalId,
      group_ids: [scim.membersGroupId],
      status: user.status,
    }),
  ];
  // Only an active user holds a seat; one provisioned disabled waits for `active:true`.
  if (fields.active) await commitTaking(ctx, takesSeat(ctx), statements, events);
  else await commit(ctx, statements, events);
  return toScimUser(ctx, { user, groups: [] });
}

const stateOf = (user: UserRow): UserState => ({
  userName: user.email,
  workEmail: user.email,
  givenName: user.firstName,
  familyName: user.lastName,
  active: user.status === "active",
  externalId: user.externalId,
});

/** The statements and events that bring the user to `next`; nothing when nothing changes. */
function changeTo(ctx: ScimCtx, user: UserRow, next: UserFields) {
  const { db, now, scim } = ctx;
  const { accountId } = scim;
  const id = user.id;
  const statements: Statement[] = [];
  const events: EventInput[] = [];
  const set: Partial<UserRow> = {};
  const changes: Record<string, unknown> = {};
  if (next.firstName !== user.firstName) set.firstName = changes.first_name = next.firstName;
  if (next.lastName !== user.lastName) set.lastName = changes.last_name = next.lastName;
  if (next.externalId !== user.externalId) set.externalId = changes.external_id = next.externalId;
  if (Object.keys(changes).length > 0) events.push(userEvent(ctx, "user.updated", id, { changes }));

  const emailChanges = next.email !== user.email;
  const status = next.active ? "active" : "disabled";
  const statusChanges = status !== user.status;
  if (emailChanges) {
    Object.assign(set, { email: next.email, emailVerifiedAt: now });
    events.push(userEvent(ctx, "user.email_changed", id, { from: user.email, to: next.email }));
    statements.push(
      usersRepo.guardEmailFreeAcrossAccounts(next.email, id),
      // Reset links mailed to the old address must not outlive it.
      supersedeTokens(ctx, accountId, id, "password_reset"),
    );
  }
  if (statusChanges) {
    set.status = status;
    events.push(userEvent(ctx, next.active ? "user.enabled" : "user.disabled", id));
    if (!next.active) {
      statements.push(
        guard("last_administrator", usersRepo.anotherAdministratorRemains(accountId, id)),
        ...endCredentials(db, accountId, id, now),
      );
    }
  }
  // A change of address the user asked for ends when the IdP sets the address or disables them.
  if ((emailChanges || (statusChanges && !next.active)) && user.pendingEmail !== null) {
    const dropped = dropPendingEmail(
      ctx,
      user,
      statusChanges && !next.active ? "disabled" : "email_changed",
      byScim(scim),
    );
    statements.push(...dropped.statements);
    events.push(...dropped.events);
  }
  if (events.length === 0) return null;
  statements.push(usersRepo.updateUser(db, accountId, id, { ...set, updatedAt: now }));
  return { statements, events, takesSeat: statusChanges && next.active };
}

/**
 * A SCIM token acts on users only within the authority of whoever made it (as of now; none
 * once they are gone): otherwise a holder of sso:manage could have SCIM change an
 * administrator's email, then reset that password.
 */
async function withinCreator(ctx: ScimCtx, userId: string): Promise<Statement> {
  const { db, scim } = ctx;
  const creator = scim.createdBy ? await loadUserGrants(db, scim.accountId, scim.createdBy) : null;
  const grants = creator?.status === "active" ? creator.grants : [];
  return guard("permission_not_held", userWithin(scim.accountId, authorityOf(grants), userId));
}

async function applyChange(ctx: ScimCtx, current: repo.ScimUserRow, next: UserFields) {
  const change = changeTo(ctx, current.user, next);
  if (!change) return toScimUser(ctx, current);
  change.statements.unshift(await withinCreator(ctx, current.user.id));
  if (change.takesSeat) {
    await commitTaking(ctx, takesSeat(ctx), change.statements, change.events);
  } else {
    await commit(ctx, change.statements, change.events);
  }
  return toScimUser(ctx, await findOrThrow(ctx, current.user.id));
}

/** PUT: the body is the whole user (an absent `active` leaves the status as it is). */
export async function replaceScimUser(ctx: ScimCtx, id: string, body: Record<string, unknown>) {
  const current = await findOrThrow(ctx, id);
  return applyChange(ctx, current, fieldsOf(stateFromBody(body, stateOf(current.user))));
}

export async function patchScimUser(ctx: ScimCtx, id: string, body: Record<string, unknown>) {
  const ops = patchOperations(body);
  const current = await findOrThrow(ctx, id);
  const before = stateOf(current.user);
  const after = ops.reduce(applyUserOp, before);
  const onlyEmails = after.workEmail !== before.workEmail && after.userName === before.userName;
  return applyChange(ctx, current, fieldsOf(after, onlyEmails));
}

/** Like DELETE /v1/users/:id: memberships, sessions and API tokens go with the user; activity stays. */
export async function deleteScimUser(ctx: ScimCtx, id: string) {
  const { db, scim } = ctx;
  const current = await findOrThrow(ctx, id);
  await commit(
    ctx,
    [
      await withinCreator(ctx, id),
      guard("last_administrator", usersRepo.anotherAdministratorRemains(scim.accountId, id)),
      usersRepo.deleteUser(db, scim.accountId, id),
    ],
    [userEvent(ctx, "user.deleted", id, { email: current.user.email })],
  );
}

/** Email invitations: the whole lifecycle from invite to accepted. */
import { DEFAULT_SETTINGS } from "../accounts/settings";
import { by, type EventInput } from "../activity/record";
import { startSession } from "../auth/service";
import { type Authority, authorityOf } from "../authz/delegation";
import { groupsWithin } from "../authz/repo";
import type { AuthedCtx, Ctx } from "../context";
import { check, guard, guards, type Statement } from "../db/batch";
import { commit, commitTaking } from "../db/commit";
import { once, slot } from "../db/compiled";
import * as groupsRepo from "../groups/repo";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { domainOf, invitationAllowedUnderSso, withSsoStartUrl } from "../sso/policy";
import { forgetToken, readToken } from "../tokens/single-use";
import * as usersRepo from "../users/repo";
import { owedMail, queueInvitationMail, INVITATION_TOKEN as TOKEN } from "./mail";
import * as repo from "./repo";

const HOUR = 60 * 60 * 1000;
const INVALID_LINK =
  "This invitation link is not valid. It may have been used, revoked or replaced by a newer one.";

export function toInvitationDto(row: repo.InvitationRow, now: number) {
  return {
    id: row.id,
    email: row.email,
    group_ids: row.groupIds,
    status: row.status === "pending" && row.expiresAt <= now ? ("expired" as const) : row.status,
    expires_at: iso(row.expiresAt)!,
    invited_by: row.invitedBy,
    created_at: iso(row.createdAt)!,
    accepted_at: iso(row.acceptedAt),
    revoked_at: iso(row.revokedAt),
    user_id: row.userId,
    email_delivery: row.emailDelivery,
  };
}

export async function listInvitations(
  ctx: AuthedCtx,
  status: repo.InvitationRow["status"] | undefined,
  limit: number,
  cursor?: string,
) {
  const { accountId } = ctx.principal;
  const after = decodeCursor(cursor);
  const rows = await repo.listInvitations(ctx.db, accountId, ctx.now, status, limit, after);
  return toPage(
    rows,
    limit,
    (r) => toInvitationDto(r, ctx.now),
    (r) => r.id,
  );
}

interface Inviter {
  /** The inviting user, or null for platform support. */
  userId: string | null;
  /** Their name, for the mail. */
  name: string | null;
  /** Who acted and how they signed in, for the events. */
  by: Pick<EventInput, "actor" | "method">;
  /** What the inviter holds; platform support holds everything. */
  authority: Authority | null;
}

export const inviterOf = (ctx: AuthedCtx): Inviter => ({
  userId: ctx.principal.userId,
  name: `${ctx.principal.user.firstName} ${ctx.principal.user.lastName}`.trim(),
  by: by(ctx.principal),
  authority: authorityOf(ctx.principal.grants),
});

/*
 * An invitation's guards, in the order of their refusals, fused two by two and compiled
 * once: every invitation runs them. The inviter's authority (when it is not everything)
 * is checked between the two, as its own statement.
 */
const allowedWithGroups = once<{
  accountId: string;
  domain: string;
  groupIds: string;
  groupCount: number;
}>(() =>
  guards([
    invitationAllowedUnderSso(slot("accountId"), slot("domain")),
    check(
      "validation_failed",
      groupsRepo.groupsExist(slot("accountId"), slot("groupIds"), slot("groupCount")),
      "group_ids",
    ),
  ]),
);

const emailFreeAndNotPending = once<{ accountId: string; email: string; now: number }>(() =>
  guards([
    check("email_taken", usersRepo.emailFreeAcrossAccounts(slot("email"))),
    check(
      "invitation_pending",
      repo.noPendingInvitation(slot("accountId"), slot("email"), slot("now")),
    ),
  ]),
);

/**
 * The change that creates an invitation, guards first: the groups belong to the account
 * and lie within the inviter's authority, nobody has the email, and there is no pending
 * invitation for it. It takes a seat: commit it with `commitTaking`.
 */
export async function invitation(
  ctx: Ctx,
  accountId: string,
  input: { email: string; groupIds: string[] },
  inviter: Inviter,
  ttlHours: number,
) {
  const { now } = ctx;
  const email = normalizeEmail(input.email);
  const id = newId("invitation");
  const expiresAt = now + ttlHours * HOUR;
  const row: repo.InvitationRow = {
    id,
    accountId,
    email,
    groupIds: input.groupIds,
    status: "pending",
    expiresAt,
    invitedBy: inviter.userId,
    createdAt: now,
    acceptedAt: null,
    revokedAt: null,
    userId: null,
    ...owedMail(now),
  };
  const groupIds = [...new Set(input.groupIds)];
  const statements: Statement[] = [
    allowedWithGroups({
      accountId,
      domain: domainOf(email),
      groupIds: JSON.stringify(groupIds),
      groupCount: groupIds.length,
    }),
    // Nothing lies outside an authority over everything: no statement to run.
    ...(inviter.authority && !inviter.authority.everything
      ? [guard("permission_not_held", groupsWithin(accountId, inviter.authority, input.groupIds))]
      : []),
    emailFreeAndNotPending({ accountId, email, now }),
    repo.insertInvitation(row),
  ];
  const events: EventInput[] = [
    {
      type: "invitation.created",
      accountId,
      ...inviter.by,
      subject: { type: "invitation", id },
      metadata: { email, group_ids: input.groupIds, expires_at: iso(expiresAt) },
    },
  ];
  return { row, statements, events };
}

export const invitationTtl = (ctx: AuthedCtx) =>
  ctx.principal.account.settings.invitation_ttl_hours ?? DEFAULT_SETTINGS.invitation_ttl_hours;

const takesSeat = (ctx: AuthedCtx) =>
  ({ kind: "seat", accountId: ctx.principal.accountId, by: by(ctx.principal) }) as const;

export async function createInvitation(
  ctx: AuthedCtx,
  input: { email: string; group_ids?: string[] },
) {
  const { principal } = ctx;
  // Members is everyone's group, so every invitation carries it.
  const groupIds = [...new Set([...(input.group_ids ?? []), principal.membersGroupId])];
  const inviter = inviterOf(ctx);
  const built = await invitation(
    ctx,
    principal.accountId,
    { email: input.email, groupIds },
    inviter,
    invitationTtl(ctx),
  );
  await commitTaking(ctx, takesSeat(ctx), built.statements, built.events).catch(
    withSsoStartUrl(ctx, built.row.email),
  );
  // The answer needs only the committed row: the mail follows from the queue.
  queueInvitationMail(ctx, [built.row]);
  return toInvitationDto(built.row, ctx.now);
}

export async function getInvitation(ctx: AuthedCtx, id: string) {
  return toInvitationDto(await findOwn(ctx, id), ctx.now);
}

async function findOwn(ctx: AuthedCtx, id: string) {
  const found = await repo.findInvitation(ctx.db, ctx.principal.accountId, id);
  if (!found) throw new AppError("not_found", "No such invitation.");
  return found;
}

/**
 * A new link and expiry; the old link stops working. Like inviting, it needs the groups
 * within the resender's authority and the email still free; an expired invitation takes a
 * seat again, so it runs under the account's limit like any invitation.
 */
export async function resendInvitation(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const { accountId } = principal;
  const current = await findOwn(ctx, id);
  if (current.status !== "pending" && current.status !== "expired") {
    throw new AppError(
      "invitation_not_pending",
      `The invitation is ${current.status}; send a new one instead.`,
    );
  }
  const inviter = inviterOf(ctx);
  const expiresAt = now + invitationTtl(ctx) * HOUR;
  const mail = owedMail(now);
  const wasExpired = current.status === "expired" || current.expiresAt <= now;
  await commitTaking(
    ctx,
    takesSeat(ctx),
    [
      guard("invitation_not_pending", repo.resendable(accountId, id, current.mailId)),
      guard("permission_not_held", groupsWithin(accountId, inviter.authority!, current.groupIds)),
      usersRepo.guardEmailFreeAcrossAccounts(current.email),
      ...(wasExpired
        ? [guard("invitation_pending", repo.noPendingInvitation(accountId, current.email, now, id))]
        : []),
      repo.updateInvitation(db, accountId, id, { ...mail, expiresAt, status: "pending" }),
    ],
    [
      {
        type: "invitation.resent",
        ...inviter.by,
        accountId,
        subject: { type: "invitation", id },
        metadata: { email: current.email, expires_at: iso(expiresAt) },
      },
    ],
  );
  forgetToken(ctx, TOKEN, current.tokenHash);
  const updated = { ...current, ...mail, expiresAt, status: "pending" as const };
  queueInvitationMail(ctx, [updated]);
  return toInvitationDto(updated, now);
}

/** Revokes a pending invitation: the seat is freed and the link stops working. One past its expiry is expired, marked or not. */
export async function revokeInvitation(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const { accountId } = principal;
  const current = await findOwn(ctx, id);
  const { status } = toInvitationDto(current, now);
  if (status !== "pending") {
    throw new AppError("invitation_not_pending", `The invitation is already ${status}.`);
  }
  await commit(
    ctx,
    [
      guard("invitation_not_pending", repo.stillPending(accountId, id, now)),
      repo.updateInvitation(db, accountId, id, { status: "revoked", revokedAt: now }),
    ],
    [
      {
        type: "invitation.revoked",
        ...by(principal),
        subject: { type: "invitation", id },
        metadata: { email: current.email },
      },
    ],
  );
  forgetToken(ctx, TOKEN, current.tokenHash);
}

/**
 * Finds the invitation a link points to. KV is a fast index (it can lag by a minute), so
 * D1 decides: a KV miss still looks in D1. Past its expiry, a pending invitation is marked
 * expired (recording `invitation.expired` once) and answers 410.
 */
async function resolveToken(ctx: Ctx, token: string) {
  const { hash, indexedId } = await readToken(ctx, TOKEN, token, INVALID_LINK);
  const found = await repo.findByTokenAcrossAccounts(ctx.db, hash, indexedId);
  if (!found || found.invitation.status === "accepted" || found.invitation.status === "revoked") {
    throw new AppError("invitation_invalid", INVALID_LINK);
  }
  const { invitation } = found;
  if (invitation.status === "expired" || invitation.expiresAt <= ctx.now) {
    if (invitation.status === "pending") await commit(ctx, ...expiry(ctx, invitation));
    throw new AppError(
      "invitation_expired",
      "This invitation has expired. Ask your administrator to send a new one.",
    );
  }
  return { ...found, tokenHash: hash };
}

/** Marks one invitation expired, with its event, exactly once however many try at once. */
function expiry(ctx: Ctx, invitation: repo.InvitationRow): [Statement[], EventInput[]] {
  const { accountId, id } = invitation;
  return [
    [repo.markExpired(accountId, id, ctx.now)],
    [
      {
        type: "invitation.expired",
        accountId,
        actor: { type: "system", id: null },
        subject: { type: "invitation", id },
        metadata: { email: invitation.email, expired_at: iso(invitation.expiresAt) },
        when: repo.stillDue(accountId, id, ctx.now),
      },
    ],
  ];
}

/** The cron's sweep: marks due invitations expired, each with its event. */
export async function expireDueInvitations(ctx: Ctx, batchSize = 200) {
  const due = await repo.listDueAcrossAccounts(ctx.db, ctx.now, batchSize);
  const changes = due.map((inv) => expiry(ctx, inv));
  await commit(
    ctx,
    changes.flatMap(([statements]) => statements),
    changes.flatMap(([, events]) => events),
  );
  return due.length;
}

export async function lookupInvitation(ctx: Ctx, token: string) {
  const { invitation, accountName } = await resolveToken(ctx, token);
  return {
    email: invitation.email,
    account_name: accountName,
    expires_at: iso(invitation.expiresAt)!,
  };
}

interface AcceptInput {
  token: string;
  first_name: string;
  last_name: string;
  password: string;
}

/**
 * Accepting is one batch: the conditional update of the invitation (so a link works
 * exactly once), the user, its memberships, the events and the new session.
 */
export async function acceptInvitation(ctx: Ctx, input: AcceptInput) {
  const { db, now, config } = ctx;
  const { invitation, accountName, tokenHash } = await resolveToken(ctx, input.token);
  const { accountId } = invitation;
  checkPasswordPolicy(input.password, { email: invitation.email, accountName });
  const user = usersRepo.newUserRow({
    id: newId("user"),
    accountId,
    email: invitation.email,
    firstName: input.first_name,
    lastName: input.last_name,
    passwordHash: await hashPassword(input.password, config.passwords),
    createdVia: "invitation",
    createdBy: invitation.invitedBy,
    emailVerifiedAt: now,
    now,
  });
  const actor = { type: "user" as const, id: user.id };
  const email = invitation.email;
  const result = await startSession(ctx, user, null, "password", {
    before: [
      guard("invitation_invalid", repo.acceptable(accountId, invitation.id, tokenHash, now)),
      repo.updateInvitation(db, accountId, invitation.id, {
        status: "accepted",
        acceptedAt: now,
        userId: user.id,
      }),
      usersRepo.insertUser(db, user),
      repo.insertInvitedMemberships(accountId, user.id, invitation.groupIds, now),
    ],
    events: [
      {
        type: "invitation.accepted",
        accountId,
        actor,
        subject: { type: "invitation", id: invitation.id },
        metadata: { email, user_id: user.id },
      },
      {
        type: "user.created",
        accountId,
        actor,
        subject: { type: "user", id: user.id },
        metadata: {
          created_via: "invitation",
          created_by: invitation.invitedBy,
          invitation_id: invitation.id,
          email,
        },
      },
    ],
  });
  forgetToken(ctx, TOKEN, tokenHash);
  return result;
}

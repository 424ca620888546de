/** Email invitations (API.md, "Invitations"): the whole lifecycle from invite to accepted. */
import { sql } from "drizzle-orm";
import { DEFAULT_SETTINGS } from "../accounts/settings";
import {
  type ActorType,
  actorOf,
  buildEvent,
  type EventRow,
  insertEvent,
  publish,
} from "../activity/record";
import { normalizeEmail, startSession } from "../auth/service";
import { type Authority, authorityOf, groupsWithin } from "../authz/delegation";
import { actingAs, consumeCapacity } from "../capacity/consume";
import { seatsAvailable } from "../capacity/limits";
import type { AuthedCtx, AuthMethod, Ctx } from "../context";
import { guard, runBatch, type Statement } from "../db/batch";
import * as groupsRepo from "../groups/repo";
import { iso } from "../lib/clock";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { type Delivery, sendMail } from "../mail/send";
import { invitationMail } from "../mail/templates";
import * as usersRepo from "../users/repo";
import * as repo from "./repo";

const HOUR = 60 * 60 * 1000;
const kvKey = (tokenHash: string) => `inv:${tokenHash}`;

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
  };
}

export async function listInvitations(
  ctx: AuthedCtx,
  status: repo.InvitationRow["status"] | undefined,
  limit: number,
  cursor?: string,
) {
  const rows = await repo.listInvitations(
    ctx.db,
    ctx.principal.accountId,
    ctx.now,
    status,
    limit,
    decodeCursor(cursor),
  );
  return toPage(
    rows,
    limit,
    (r) => toInvitationDto(r, ctx.now),
    (r) => r.id,
  );
}

/** A new secret: only its SHA-256 is stored, in D1 (the truth) and as the KV index key. */
async function newToken(ctx: Ctx, accountId: string, invitationId: string, expiresAt: number) {
  const token = randomSecret();
  const tokenHash = await sha256Hex(token);
  const ttl = Math.max(60, Math.ceil((expiresAt - ctx.now) / 1000));
  return {
    token,
    tokenHash,
    index: () =>
      ctx.env.TOKENS.put(
        kvKey(tokenHash),
        JSON.stringify({ invitation_id: invitationId, account_id: accountId }),
        { expirationTtl: ttl },
      ),
  };
}

export async function mailInvitation(
  ctx: Ctx,
  to: string,
  accountName: string,
  inviter: string | null,
  token: string,
  expiresAt: number,
): Promise<Delivery> {
  const link = `${ctx.env.APP_URL.replace(/\/$/, "")}/activate?token=${encodeURIComponent(token)}`;
  const mail = await invitationMail({ accountName, inviter, link, expiresAt });
  return sendMail(ctx.env, { to, ...mail, tag: "invitation" }, ctx.now);
}

export interface InviteInput {
  email: string;
  group_ids?: string[];
  /** How the inviter authenticated, for the event. */
  method?: AuthMethod;
}

/**
 * The statements that create an invitation, guards first: the groups belong to the
 * account, nobody has the email, no pending invitation for it, and a seat is free.
 */
export async function invitationStatements(
  ctx: Ctx,
  accountId: string,
  input: InviteInput & { groupIds: string[] },
  invitedBy: string | null,
  actor: { type: ActorType; id: string | null },
  ttlHours: number,
  /** What the inviter holds; platform support holds everything. */
  authority: Authority | null,
) {
  const { db, now } = ctx;
  const email = normalizeEmail(input.email);
  const id = newId("invitation");
  const expiresAt = now + ttlHours * HOUR;
  const token = await newToken(ctx, accountId, id, expiresAt);
  const event = buildEvent(ctx, {
    type: "invitation.created",
    accountId,
    actor,
    subject: { type: "invitation", id },
    method: input.method ?? null,
    metadata: { email, group_ids: input.groupIds, expires_at: iso(expiresAt) },
  });
  const row = {
    id,
    accountId,
    email,
    groupIds: input.groupIds,
    status: "pending" as const,
    tokenHash: token.tokenHash,
    expiresAt,
    invitedBy,
    createdAt: now,
    acceptedAt: null,
    revokedAt: null,
    userId: null,
  };
  const statements: Statement[] = [
    guard("validation_failed", groupsRepo.allGroupsExist(accountId, input.groupIds)),
    ...(authority ? [guard("permission_not_held", groupsWithin(authority, input.groupIds))] : []),
    guard("email_taken", repo.emailFree(email)),
    guard("invitation_pending", repo.noPendingInvitation(accountId, email, now)),
    guard("capacity_exceeded", seatsAvailable(accountId, now)),
    repo.insertInvitation(db, row),
    insertEvent(db, event),
  ];
  return { row, token, event, statements };
}

const unknownGroup = (err: unknown): never => {
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
};

export async function createInvitation(ctx: AuthedCtx, input: InviteInput) {
  const { principal } = ctx;
  const groupIds = input.group_ids?.length
    ? [...new Set(input.group_ids)]
    : [principal.membersGroupId];
  const ttl =
    principal.account.settings.invitation_ttl_hours ?? DEFAULT_SETTINGS.invitation_ttl_hours;
  const built = await invitationStatements(
    ctx,
    principal.accountId,
    { ...input, groupIds, method: principal.method },
    principal.userId,
    actorOf(principal),
    ttl,
    authorityOf(principal.grants),
  );
  await consumeCapacity(
    ctx,
    principal.accountId,
    "users",
    built.statements,
    actingAs(principal),
  ).catch(unknownGroup);
  publish(ctx, [built.event]);
  await built.token.index();
  const inviter = `${principal.user.firstName} ${principal.user.lastName}`.trim();
  const delivery = await mailInvitation(
    ctx,
    built.row.email,
    principal.account.name,
    inviter,
    built.token.token,
    built.row.expiresAt,
  );
  return { ...toInvitationDto(built.row, ctx.now), email_delivery: delivery };
}

async function findOwn(ctx: AuthedCtx, id: string) {
  const found = await repo.findInvitation(ctx.db, ctx.principal.accountId, id);
  if (!found) throw new AppError("not_found", "No such invitation.");
  return found;
}

/**
 * A new link and expiry; the old link stops working. Like inviting, it needs the groups
 * within the resender's authority and the email still free; an expired invitation also
 * needs a free seat again.
 */
export async function resendInvitation(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const current = await findOwn(ctx, id);
  if (current.status !== "pending" && current.status !== "expired") {
    throw new AppError(
      "invitation_not_pending",
      `The invitation is ${current.status}; send a new one instead.`,
    );
  }
  const ttl =
    principal.account.settings.invitation_ttl_hours ?? DEFAULT_SETTINGS.invitation_ttl_hours;
  const expiresAt = now + ttl * HOUR;
  const token = await newToken(ctx, principal.accountId, id, expiresAt);
  const event = buildEvent(ctx, {
    type: "invitation.resent",
    accountId: principal.accountId,
    actor: actorOf(principal),
    method: principal.method,
    subject: { type: "invitation", id },
    metadata: { email: current.email, expires_at: iso(expiresAt) },
  });
  const wasExpired = current.status === "expired" || current.expiresAt <= now;
  await consumeCapacity(
    ctx,
    principal.accountId,
    "users",
    [
      guard(
        "invitation_not_pending",
        sql`EXISTS (SELECT 1 FROM invitations WHERE id = ${id} AND token_hash = ${current.tokenHash} AND status IN ('pending', 'expired'))`,
      ),
      guard("permission_not_held", groupsWithin(authorityOf(principal.grants), current.groupIds)),
      guard("email_taken", repo.emailFree(current.email)),
      ...(wasExpired
        ? [
            guard(
              "invitation_pending",
              repo.noPendingInvitation(principal.accountId, current.email, now, id),
            ),
            guard("capacity_exceeded", seatsAvailable(principal.accountId, now)),
          ]
        : []),
      repo.updateInvitation(db, principal.accountId, id, {
        tokenHash: token.tokenHash,
        expiresAt,
        status: "pending",
      }),
      insertEvent(db, event),
    ],
    actingAs(principal),
  );
  publish(ctx, [event]);
  await Promise.all([ctx.env.TOKENS.delete(kvKey(current.tokenHash)), token.index()]);
  const updated = { ...current, tokenHash: token.tokenHash, expiresAt, status: "pending" as const };
  const inviter = `${principal.user.firstName} ${principal.user.lastName}`.trim();
  const delivery = await mailInvitation(
    ctx,
    current.email,
    principal.account.name,
    inviter,
    token.token,
    expiresAt,
  );
  return { ...toInvitationDto(updated, now), email_delivery: delivery };
}

/** Revokes a pending invitation: the seat is freed and the link stops working. One past its expiry is expired, marked or not. */
export async function revokeInvitation(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const current = await findOwn(ctx, id);
  const { status } = toInvitationDto(current, now);
  if (status !== "pending")
    throw new AppError("invitation_not_pending", `The invitation is already ${status}.`);
  const event = buildEvent(ctx, {
    type: "invitation.revoked",
    accountId: principal.accountId,
    actor: actorOf(principal),
    method: principal.method,
    subject: { type: "invitation", id },
    metadata: { email: current.email },
  });
  await runBatch(db, [
    guard(
      "invitation_not_pending",
      sql`EXISTS (SELECT 1 FROM invitations WHERE id = ${id} AND status = 'pending' AND expires_at > ${now})`,
    ),
    repo.updateInvitation(db, principal.accountId, id, { status: "revoked", revokedAt: now }),
    insertEvent(db, event),
  ]);
  publish(ctx, [event]);
  await ctx.env.TOKENS.delete(kvKey(current.tokenHash));
}

/**
 * Finds the invitation a link points to. KV is a fast index (it can lag by a minute), so
 * D1 decides: a KV miss still looks in D1. Past its expiry, a pending invitation is marked
 * expired (recording `invitation.expired` once) and answers 410.
 */
async function resolveToken(ctx: Ctx, token: string) {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token))
    throw new AppError("invitation_invalid", "This invitation link is not valid.");
  const tokenHash = await sha256Hex(token);
  const indexed = await ctx.env.TOKENS.get<{ invitation_id: string }>(kvKey(tokenHash), "json");
  const found = await repo.findByToken(ctx.db, tokenHash, indexed?.invitation_id);
  if (!found || found.invitation.status === "accepted" || found.invitation.status === "revoked") {
    throw new AppError(
      "invitation_invalid",
      "This invitation link is not valid. It may have been used, revoked or replaced by a newer one.",
    );
  }
  const { invitation } = found;
  if (invitation.status === "expired" || invitation.expiresAt <= ctx.now) {
    if (invitation.status === "pending") await expireOne(ctx, invitation);
    throw new AppError(
      "invitation_expired",
      "This invitation has expired. Ask your administrator to send a new one.",
    );
  }
  return { ...found, tokenHash };
}

function expiredEvent(ctx: Ctx, invitation: repo.InvitationRow): EventRow {
  return buildEvent(ctx, {
    type: "invitation.expired",
    accountId: invitation.accountId,
    actor: { type: "system", id: null },
    subject: { type: "invitation", id: invitation.id },
    metadata: { email: invitation.email, expired_at: iso(invitation.expiresAt) },
  });
}

async function expireOne(ctx: Ctx, invitation: repo.InvitationRow) {
  const event = expiredEvent(ctx, invitation);
  const [recorded] = await runBatch(ctx.db, [
    insertEvent(ctx.db, event, repo.stillDue(invitation.id, ctx.now)),
    sql`UPDATE invitations SET status = 'expired' WHERE id = ${invitation.id} AND status = 'pending' AND expires_at <= ${ctx.now}`,
  ]);
  if (recorded?.meta.changes) publish(ctx, [event]);
}

/** The cron's sweep: marks due invitations expired, each with its event. */
export async function expireDueInvitations(ctx: Ctx, batchSize = 200) {
  const due = await repo.listDue(ctx.db, ctx.now, batchSize);
  const events = due.map((inv) => expiredEvent(ctx, inv));
  await runBatch(
    ctx.db,
    due.flatMap((inv, i) => [
      insertEvent(ctx.db, events[i]!, repo.stillDue(inv.id, ctx.now)),
      sql`UPDATE invitations SET status = 'expired' WHERE id = ${inv.id} AND status = 'pending' AND expires_at <= ${ctx.now}`,
    ]),
  );
  publish(ctx, events);
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

export interface AcceptInput {
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
  const { db, now, env } = ctx;
  const { invitation, accountName, tokenHash } = await resolveToken(ctx, input.token);
  checkPasswordPolicy(input.password, { email: invitation.email, accountName });
  const userId = newId("user");
  const user = {
    id: userId,
    accountId: invitation.accountId,
    email: invitation.email,
    pendingEmail: null,
    firstName: input.first_name,
    lastName: input.last_name,
    passwordHash: await hashPassword(input.password, env.PASSWORD_PEPPER),
    mustChangePassword: false,
    status: "active" as const,
    createdVia: "invitation" as const,
    createdBy: invitation.invitedBy,
    emailVerifiedAt: now,
    createdAt: now,
    updatedAt: now,
    lastLoginAt: null,
    lastLoginIp: null,
    lastLoginMethod: null,
  };
  const actor = { type: "user" as const, id: userId };
  const events = [
    buildEvent(ctx, {
      type: "invitation.accepted",
      accountId: invitation.accountId,
      actor,
      subject: { type: "invitation", id: invitation.id },
      metadata: { email: invitation.email, user_id: userId },
    }),
    buildEvent(ctx, {
      type: "user.created",
      accountId: invitation.accountId,
      actor,
      subject: { type: "user", id: userId },
      metadata: {
        created_via: "invitation",
        created_by: invitation.invitedBy,
        invitation_id: invitation.id,
        email: invitation.email,
      },
    }),
  ];
  // Groups deleted since the invitation was sent are skipped; with none left, the user joins Members.
  const memberships = sql`INSERT INTO group_memberships (account_id, group_id, user_id, created_at)
    SELECT ${invitation.accountId}, id, ${userId}, ${now} FROM groups
    WHERE account_id = ${invitation.accountId} AND (id IN (SELECT value FROM json_each(${JSON.stringify(invitation.groupIds)}))
      OR (builtin = 'members' AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.account_id = ${invitation.accountId} AND g.id IN (SELECT value FROM json_each(${JSON.stringify(invitation.groupIds)})))))`;
  const result = await startSession(ctx, user, null, "password", {
    before: [
      guard("invitation_invalid", repo.acceptable(invitation.id, tokenHash, now)),
      repo.updateInvitation(db, invitation.accountId, invitation.id, {
        status: "accepted",
        acceptedAt: now,
        userId,
      }),
      usersRepo.insertUser(db, user),
      memberships,
    ],
    events,
  });
  ctx.waitUntil(env.TOKENS.delete(kvKey(tokenHash)));
  return result;
}

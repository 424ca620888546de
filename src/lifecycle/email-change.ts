/**
 * Email change with verification: the new address
 * waits in `pending_email` and the user keeps signing in with the current one until the
 * link sent to the new address is confirmed. Uniqueness is checked at request and again
 * at confirmation; a newer request supersedes an older one. The current address is told
 * at once, with a link that cancels the change, so whoever took over a session cannot
 * move the account elsewhere unnoticed; it is told again once the change is made.
 */
import { by, type EventInput } from "../activity/record";
import { authorityOf } from "../authz/delegation";
import { userWithin } from "../authz/repo";
import type { AuthedCtx, Ctx, UserRow } from "../context";
import { guard, type Statement } from "../db/batch";
import { commit } from "../db/commit";
import { groupIdsFromResult, selectGroupIdsOf } from "../groups/repo";
import { appLink } from "../http/links";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { sendMail } from "../mail/send";
import {
  emailChangedNotice,
  emailChangeRequestedNotice,
  emailVerificationMail,
} from "../mail/templates";
import {
  forgetToken,
  issueToken,
  resolveToken,
  supersedeTokens,
  useToken,
} from "../user-tokens/tokens";
import { displayName } from "../users/dto";
import * as usersRepo from "../users/repo";

/** Both links of a change: the verification mailed to the new address, the cancel link to the old. */
const supersedeChangeLinks = (ctx: Ctx, accountId: string, userId: string) => [
  supersedeTokens(ctx, accountId, userId, "email_verification"),
  supersedeTokens(ctx, accountId, userId, "email_change_cancel"),
];

/**
 * The statements that store the new address as pending (guards first), its event, and
 * what to do after commit (index the token, mail the link). Callers put the statements in
 * the same batch as the rest of the profile change, so a refused email changes nothing.
 */
export async function emailChangeStatements(ctx: AuthedCtx, target: UserRow, rawEmail: string) {
  const { db, now, principal } = ctx;
  const email = normalizeEmail(rawEmail);
  const none = { statements: [] as Statement[], events: [] as EventInput[], after: async () => {} };
  if (email === target.email && target.pendingEmail === null) return none;
  if (email === target.email) {
    // Asking for the current address again withdraws a pending change.
    return {
      ...none,
      statements: [
        usersRepo.updateUser(db, target.accountId, target.id, {
          pendingEmail: null,
          updatedAt: now,
        }),
        ...supersedeChangeLinks(ctx, target.accountId, target.id),
      ],
    };
  }
  const self = target.id === principal.userId;
  const issued = await issueToken(ctx, {
    accountId: target.accountId,
    userId: target.id,
    kind: "email_verification",
    email,
  });
  const cancel = await issueToken(ctx, {
    accountId: target.accountId,
    userId: target.id,
    kind: "email_change_cancel",
    email,
  });
  const event: EventInput = {
    type: "user.email_change_requested",
    ...by(principal),
    subject: { type: "user", id: target.id },
    metadata: { from: target.email, to: email, by: self ? "self" : "admin" },
  };
  const authority = authorityOf(principal.grants);
  const statements: Statement[] = [
    // Someone else changing the address could take the account over: only within the caller's authority.
    ...(self
      ? []
      : [guard("permission_not_held", userWithin(target.accountId, authority, target.id))]),
    usersRepo.guardEmailFreeAcrossAccounts(email),
    usersRepo.updateUser(db, target.accountId, target.id, { pendingEmail: email, updatedAt: now }),
    ...issued.statements,
    ...cancel.statements,
  ];
  const after = async () => {
    await Promise.all([issued.index(), cancel.index()]);
    const mail = await emailVerificationMail({
      name: displayName(target),
      newEmail: email,
      link: appLink(ctx, "/verify-email", { token: issued.token }),
      expiresAt: issued.row.expiresAt,
    });
    await sendMail(ctx, { to: email, ...mail, tag: "email-verification" });
    const notice = await emailChangeRequestedNotice({
      name: displayName(target),
      oldEmail: target.email,
      newEmail: email,
      link: appLink(ctx, "/cancel-email-change", { token: cancel.token }),
      expiresAt: cancel.row.expiresAt,
    });
    await sendMail(ctx, { to: target.email, ...notice, tag: "email-change-requested" });
  };
  return { statements, events: [event], after };
}

export async function describeVerification(ctx: Ctx, token: string) {
  const { token: row, user } = await resolveToken(ctx, "email_verification", token);
  return {
    email: row.email!,
    current_email: user.email,
    expires_at: new Date(row.expiresAt).toISOString(),
  };
}

/** Applies the pending address; the link works once, and only for the newest request. */
export async function confirmEmailChange(ctx: Ctx, token: string) {
  const { db, now } = ctx;
  const { token: row, user } = await resolveToken(ctx, "email_verification", token);
  if (user.status !== "active") throw new AppError("token_invalid", "This link is not valid.");
  const email = row.email!;
  const statements = [
    ...useToken(ctx, row),
    guard("token_invalid", usersRepo.hasPendingEmail(user.accountId, user.id, email)),
    usersRepo.guardEmailFreeAcrossAccounts(email, user.id),
    usersRepo.updateUser(db, user.accountId, user.id, {
      email,
      pendingEmail: null,
      emailVerifiedAt: now,
      updatedAt: now,
    }),
    // Reset links mailed to the old address must not outlive it; nor its cancel link.
    supersedeTokens(ctx, user.accountId, user.id, "password_reset"),
    supersedeTokens(ctx, user.accountId, user.id, "email_change_cancel"),
    selectGroupIdsOf(user.accountId, user.id),
  ];
  const results = await commit(ctx, statements, [
    {
      type: "user.email_changed",
      accountId: user.accountId,
      actor: { type: "user", id: user.id },
      subject: { type: "user", id: user.id },
      metadata: { from: user.email, to: email },
    },
  ]);
  forgetToken(ctx, row.tokenHash);
  const notice = await emailChangedNotice({
    name: displayName(user),
    oldEmail: user.email,
    newEmail: email,
  });
  await sendMail(ctx, { to: user.email, ...notice, tag: "email-changed" });
  const changed = { ...user, email, pendingEmail: null, emailVerifiedAt: now, updatedAt: now };
  return { user: changed, groupIds: groupIdsFromResult(results.at(-1)!) };
}

/**
 * Drops the user's pending change, if any: `pending_email` cleared and both of its links
 * dead. A password change or reset and disabling the user do this, since a change
 * requested before them may have been requested by whoever they lock out.
 */
export function dropPendingEmail(
  ctx: Ctx,
  user: Pick<UserRow, "accountId" | "id" | "pendingEmail">,
  reason: "password_changed" | "password_reset" | "disabled" | "email_changed",
  actor: Pick<EventInput, "actor" | "method">,
) {
  const { accountId, id } = user;
  const statements: Statement[] = [
    usersRepo.clearPendingEmail(accountId, id, ctx.now),
    ...supersedeChangeLinks(ctx, accountId, id),
  ];
  const events: EventInput[] = user.pendingEmail
    ? [
        {
          type: "user.email_change_cancelled",
          accountId,
          ...actor,
          subject: { type: "user", id },
          metadata: { email: user.pendingEmail, reason },
          when: usersRepo.hasPendingEmail(accountId, id, user.pendingEmail),
        },
      ]
    : [];
  return { statements, events };
}

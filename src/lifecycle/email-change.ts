/**
 * Email change with verification (API.md, "Profile and email change"): the new address
 * waits in `pending_email` and the user keeps signing in with the current one until the
 * link sent to the new address is confirmed. Uniqueness is checked at request and again
 * at confirmation; a newer request supersedes an older one; the old address is told.
 */
import { sql } from "drizzle-orm";
import { actorOf, buildEvent, type EventRow, insertEvent, publish } from "../activity/record";
import { normalizeEmail } from "../auth/service";
import { authorityOf, userWithin } from "../authz/delegation";
import type { AuthedCtx, Ctx, UserRow } from "../context";
import { guard, runBatch, type Statement } from "../db/batch";
import { AppError } from "../lib/errors";
import { sendMail } from "../mail/send";
import { emailChangedNotice, emailVerificationMail } from "../mail/templates";
import {
  forgetToken,
  issueToken,
  resolveToken,
  supersedeTokens,
  useToken,
} from "../user-tokens/tokens";
import * as usersRepo from "../users/repo";

const appLink = (ctx: Ctx, path: string, token: string) =>
  `${ctx.env.APP_URL.replace(/\/$/, "")}${path}?token=${encodeURIComponent(token)}`;
const nameOf = (u: UserRow) => `${u.firstName} ${u.lastName}`.trim() || u.email;

/**
 * The statements that store the new address as pending (guards first), its event, and
 * what to do after commit (index the token, mail the link). Callers put the statements in
 * the same batch as the rest of the profile change, so a refused email changes nothing.
 */
export async function emailChangeStatements(ctx: AuthedCtx, target: UserRow, rawEmail: string) {
  const { db, now, principal } = ctx;
  const email = normalizeEmail(rawEmail);
  const none = { statements: [] as Statement[], events: [] as EventRow[], after: async () => {} };
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
        supersedeTokens(ctx, target.accountId, target.id, "email_verification"),
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
  const event = buildEvent(ctx, {
    type: "user.email_change_requested",
    accountId: target.accountId,
    actor: actorOf(principal),
    subject: { type: "user", id: target.id },
    method: principal.method,
    metadata: { from: target.email, to: email, by: self ? "self" : "admin" },
  });
  const statements: Statement[] = [
    // Someone else changing the address could take the account over: only within the caller's authority.
    ...(self
      ? []
      : [guard("permission_not_held", userWithin(authorityOf(principal.grants), target.id))]),
    guard("email_taken", sql`NOT EXISTS (SELECT 1 FROM users WHERE email = ${email})`),
    usersRepo.updateUser(db, target.accountId, target.id, { pendingEmail: email, updatedAt: now }),
    ...issued.statements,
    insertEvent(db, event),
  ];
  const after = async () => {
    await issued.index();
    const mail = await emailVerificationMail({
      name: nameOf(target),
      newEmail: email,
      link: appLink(ctx, "/verify-email", issued.token),
      expiresAt: issued.row.expiresAt,
    });
    await sendMail(ctx.env, { to: email, ...mail, tag: "email-verification" }, now);
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
  const event = buildEvent(ctx, {
    type: "user.email_changed",
    accountId: user.accountId,
    actor: { type: "user", id: user.id },
    subject: { type: "user", id: user.id },
    metadata: { from: user.email, to: email },
  });
  await runBatch(db, [
    ...useToken(ctx, row.id),
    guard(
      "token_invalid",
      sql`EXISTS (SELECT 1 FROM users WHERE id = ${user.id} AND pending_email = ${email})`,
    ),
    guard(
      "email_taken",
      sql`NOT EXISTS (SELECT 1 FROM users WHERE email = ${email} AND id <> ${user.id})`,
    ),
    usersRepo.updateUser(db, user.accountId, user.id, {
      email,
      pendingEmail: null,
      emailVerifiedAt: now,
      updatedAt: now,
    }),
    // Reset links mailed to the old address must not outlive it.
    supersedeTokens(ctx, user.accountId, user.id, "password_reset"),
    insertEvent(db, event),
  ]);
  publish(ctx, [event]);
  forgetToken(ctx, row.tokenHash);
  const notice = await emailChangedNotice({
    name: nameOf(user),
    oldEmail: user.email,
    newEmail: email,
  });
  await sendMail(ctx.env, { to: user.email, ...notice, tag: "email-changed" }, now);
  return { ...user, email, pendingEmail: null, emailVerifiedAt: now, updatedAt: now };
}

/**
 * Password resets: by an administrator (a temporary password shown once, or a mailed
 * link), or self-service through a one-hour, single-use link. Every reset ends the user's
 * sessions, refresh tokens and API tokens at once, and drops a pending email change:
 * a reset is how an account is taken back, so nothing the intruder set up may outlive it.
 */
import { by, type EventInput } from "../activity/record";
import { endCredentials } from "../auth/credentials";
import { throttle } from "../auth/rate-limit";
import { clientKey } from "../auth/throttle";
import { authorityOf } from "../authz/delegation";
import { userWithin } from "../authz/repo";
import type { AuthedCtx, Ctx, UserRow } from "../context";
import { guard } from "../db/batch";
import { commit } from "../db/commit";
import { appLink } from "../http/links";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { sendMail } from "../mail/send";
import { passwordResetMail, ssoOnlyResetMail } from "../mail/templates";
import { refuseResetUnderSso } from "../sso/policy";
import {
  forgetToken,
  issueToken,
  resolveToken,
  supersedeTokens,
  useToken,
} from "../user-tokens/tokens";
import { displayName } from "../users/dto";
import * as usersRepo from "../users/repo";
import { dropPendingEmail } from "./email-change";

const HOUR = 60 * 60 * 1000;
const FORGOT_LIMITS = { email: 5, ip: 30 };

/** 20 characters from a 32-letter alphabet (100 bits), grouped to be read out and typed. */
function temporaryPassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789A";
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  const chars = [...bytes].map((b) => alphabet[b % 32]).join("");
  return chars.match(/.{5}/g)!.join("-");
}

async function mailResetLink(ctx: Ctx, user: UserRow, token: string, expiresAt: number) {
  const link = appLink(ctx, "/reset-password", { token });
  const mail = await passwordResetMail({ name: displayName(user), link, expiresAt });
  return sendMail(ctx, { to: user.email, ...mail, tag: "password-reset" });
}

/** An administrator resets another user's password. */
export async function adminReset(
  ctx: AuthedCtx,
  target: UserRow,
  method: "temporary_password" | "email",
) {
  const { db, now, principal, config } = ctx;
  const { accountId, id } = target;
  const dropped = dropPendingEmail(ctx, target, "password_reset", by(principal));
  const events: EventInput[] = [
    {
      type: "user.password_reset",
      ...by(principal),
      subject: { type: "user", id },
      metadata: { method, by: principal.userId },
    },
    ...dropped.events,
  ];
  const common = [
    guard("permission_not_held", userWithin(accountId, authorityOf(principal.grants), id)),
    ...endCredentials(db, accountId, id, now),
    ...dropped.statements,
  ];
  if (method === "temporary_password") {
    const password = temporaryPassword();
    const statements = [
      ...common,
      // Outstanding reset links die with the old password.
      supersedeTokens(ctx, accountId, id, "password_reset"),
      usersRepo.updateUser(db, accountId, id, {
        passwordHash: await hashPassword(password, config.passwords),
        mustChangePassword: true,
        updatedAt: now,
      }),
    ];
    await commit(ctx, statements, events);
    return { method, temporary_password: password, must_change_password: true };
  }
  const issued = await issueToken(ctx, { accountId, userId: id, kind: "password_reset" });
  await commit(ctx, [...common, ...issued.statements], events);
  await issued.index();
  const delivery = await mailResetLink(ctx, target, issued.token, issued.row.expiresAt);
  return {
    method,
    email_delivery: delivery,
    expires_at: new Date(issued.row.expiresAt).toISOString(),
  };
}

/**
 * Self-service: always the same answer, and the same work before it, whether or not the
 * email exists; the lookup and the mail happen after the response. Throttled per email
 * and per address (429 alike for known and unknown emails).
 */
export async function forgotPassword(ctx: Ctx, rawEmail: string) {
  const email = normalizeEmail(rawEmail);
  const keys = [
    { key: `forgot:email:${email}`, limit: FORGOT_LIMITS.email },
    { key: `forgot:ip:${clientKey(ctx.meta.ip)}`, limit: FORGOT_LIMITS.ip },
  ];
  await throttle(ctx, keys, HOUR, "Too many reset requests. Try again later.");
  await refuseResetUnderSso(ctx, email);
  ctx.waitUntil(
    sendResetIfKnown(ctx, email).catch((err) =>
      console.error(JSON.stringify({ msg: "reset mail failed", err: String(err) })),
    ),
  );
}

async function sendResetIfKnown(ctx: Ctx, email: string) {
  const found = await usersRepo.findByEmailAcrossAccounts(ctx.db, email);
  if (found?.user.status !== "active") return;
  const { user, accountName } = found;
  if (!user.passwordHash) {
    const mail = await ssoOnlyResetMail({ name: displayName(user), accountName });
    await sendMail(ctx, { to: user.email, ...mail, tag: "password-reset-sso" });
    return;
  }
  const { accountId, id } = user;
  const issued = await issueToken(ctx, { accountId, userId: id, kind: "password_reset" });
  await commit(ctx, issued.statements, [
    {
      type: "user.password_reset_requested",
      accountId,
      actor: { type: "anonymous", id: null },
      subject: { type: "user", id },
      metadata: { method: "self_service" },
    },
  ]);
  await issued.index();
  await mailResetLink(ctx, user, issued.token, issued.row.expiresAt);
}

export async function describeReset(ctx: Ctx, token: string) {
  const { token: row, user } = await resolveToken(ctx, "password_reset", token);
  return { email: user.email, expires_at: new Date(row.expiresAt).toISOString() };
}

/** Sets the new password from a reset link; the link works once; every session and API token ends. */
export async function resetPassword(ctx: Ctx, token: string, newPassword: string) {
  const { db, now, config } = ctx;
  const { token: row, user, accountName } = await resolveToken(ctx, "password_reset", token);
  if (user.status !== "active") throw new AppError("token_invalid", "This link is not valid.");
  checkPasswordPolicy(newPassword, { email: user.email, accountName }, "new_password");
  const { accountId, id } = user;
  const actor = { type: "user" as const, id };
  const dropped = dropPendingEmail(ctx, user, "password_reset", { actor });
  await commit(
    ctx,
    [
      ...useToken(ctx, row),
      usersRepo.updateUser(db, accountId, id, {
        passwordHash: await hashPassword(newPassword, config.passwords),
        mustChangePassword: false,
        updatedAt: now,
      }),
      ...endCredentials(db, accountId, id, now),
      ...dropped.statements,
    ],
    [
      {
        type: "user.password_reset",
        accountId,
        actor,
        subject: { type: "user", id },
        metadata: { method: "self_service" },
      },
      ...dropped.events,
    ],
  );
  forgetToken(ctx, row.tokenHash);
}

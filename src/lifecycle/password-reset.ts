/**
 * Password resets (API.md, "Password reset"): by an administrator (a temporary password
 * shown once, or a mailed link), or self-service through a one-hour, single-use link.
 * Every reset ends the user's sessions and refresh tokens at once.
 */
import { sql } from "drizzle-orm";
import { actorOf, buildEvent, insertEvent, publish } from "../activity/record";
import { normalizeEmail } from "../auth/service";
import { countAttempts, revokeUserSessions } from "../auth/session-repo";
import { authorityOf, userWithin } from "../authz/delegation";
import type { AuthedCtx, Ctx, UserRow } from "../context";
import { guard, runBatch } from "../db/batch";
import { users } from "../db/schema";
import { AppError } from "../lib/errors";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { sendMail } from "../mail/send";
import { passwordResetMail, ssoOnlyResetMail } from "../mail/templates";
import {
  forgetToken,
  issueToken,
  resolveToken,
  supersedeTokens,
  useToken,
} from "../user-tokens/tokens";
import * as usersRepo from "../users/repo";

const HOUR = 60 * 60 * 1000;
const FORGOT_LIMITS = { email: 5, ip: 30 };
const nameOf = (u: UserRow) => `${u.firstName} ${u.lastName}`.trim() || u.email;

/** 20 characters from a 32-letter alphabet (100 bits), grouped to be read out and typed. */
export function temporaryPassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789A";
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  const chars = [...bytes].map((b) => alphabet[b % 32]).join("");
  return chars.match(/.{5}/g)!.join("-");
}

async function mailResetLink(ctx: Ctx, user: UserRow, token: string, expiresAt: number) {
  const link = `${ctx.env.APP_URL.replace(/\/$/, "")}/reset-password?token=${encodeURIComponent(token)}`;
  const mail = await passwordResetMail({ name: nameOf(user), link, expiresAt });
  return sendMail(ctx.env, { to: user.email, ...mail, tag: "password-reset" }, ctx.now);
}

/** An administrator resets another user's password. */
export async function adminReset(
  ctx: AuthedCtx,
  target: UserRow,
  method: "temporary_password" | "email",
) {
  const { db, now, principal, env } = ctx;
  const event = buildEvent(ctx, {
    type: "user.password_reset",
    accountId: target.accountId,
    actor: actorOf(principal),
    subject: { type: "user", id: target.id },
    method: principal.method,
    metadata: { method, by: principal.userId },
  });
  const common = [
    guard("permission_not_held", userWithin(authorityOf(principal.grants), target.id)),
    revokeUserSessions(db, target.accountId, target.id, now),
    insertEvent(db, event),
  ];
  if (method === "temporary_password") {
    const password = temporaryPassword();
    await runBatch(db, [
      ...common,
      // Outstanding reset links die with the old password.
      supersedeTokens(ctx, target.accountId, target.id, "password_reset"),
      usersRepo.updateUser(db, target.accountId, target.id, {
        passwordHash: await hashPassword(password, env.PASSWORD_PEPPER),
        mustChangePassword: true,
        updatedAt: now,
      }),
    ]);
    publish(ctx, [event]);
    return { method, temporary_password: password, must_change_password: true };
  }
  const issued = await issueToken(ctx, {
    accountId: target.accountId,
    userId: target.id,
    kind: "password_reset",
  });
  await runBatch(db, [...common, ...issued.statements]);
  publish(ctx, [event]);
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
  const keys = [`forgot:email:${email}`, `forgot:ip:${ctx.meta.ip ?? "unknown"}`];
  const counters = await countAttempts(ctx.db, keys, ctx.now, HOUR);
  const over = counters.find(
    (c) =>
      c.failures > (c.key.startsWith("forgot:email:") ? FORGOT_LIMITS.email : FORGOT_LIMITS.ip),
  );
  if (over) {
    const wait = Math.max(1, Math.ceil((over.windowStartedAt + HOUR - ctx.now) / 1000));
    throw new AppError("too_many_attempts", "Too many reset requests. Try again later.", {
      retryAfter: wait,
    });
  }
  ctx.waitUntil(
    sendResetIfKnown(ctx, email).catch((err) =>
      console.error(JSON.stringify({ msg: "reset mail failed", err: String(err) })),
    ),
  );
}

async function sendResetIfKnown(ctx: Ctx, email: string) {
  const { db, now } = ctx;
  const [row] = await db
    .select({
      user: users,
      accountName: sql<string>`(SELECT name FROM accounts WHERE id = ${users.accountId})`,
    })
    .from(users)
    .where(sql`${users.email} = ${email}`);
  if (row?.user.status !== "active") return;
  const { user } = row;
  if (!user.passwordHash) {
    const mail = await ssoOnlyResetMail({ name: nameOf(user), accountName: row.accountName });
    await sendMail(ctx.env, { to: user.email, ...mail, tag: "password-reset-sso" }, now);
    return;
  }
  const issued = await issueToken(ctx, {
    accountId: user.accountId,
    userId: user.id,
    kind: "password_reset",
  });
  const event = buildEvent(ctx, {
    type: "user.password_reset_requested",
    accountId: user.accountId,
    actor: { type: "anonymous", id: null },
    subject: { type: "user", id: user.id },
    metadata: { method: "self_service" },
  });
  await runBatch(db, [...issued.statements, insertEvent(db, event)]);
  publish(ctx, [event]);
  await issued.index();
  await mailResetLink(ctx, user, issued.token, issued.row.expiresAt);
}

export async function describeReset(ctx: Ctx, token: string) {
  const { token: row, user } = await resolveToken(ctx, "password_reset", token);
  return { email: user.email, expires_at: new Date(row.expiresAt).toISOString() };
}

/** Sets the new password from a reset link; the link works once; every session ends. */
export async function resetPassword(ctx: Ctx, token: string, newPassword: string) {
  const { db, now, env } = ctx;
  const { token: row, user, accountName } = await resolveToken(ctx, "password_reset", token);
  if (user.status !== "active") throw new AppError("token_invalid", "This link is not valid.");
  checkPasswordPolicy(newPassword, { email: user.email, accountName }, "new_password");
  const event = buildEvent(ctx, {
    type: "user.password_reset",
    accountId: user.accountId,
    actor: { type: "user", id: user.id },
    subject: { type: "user", id: user.id },
    metadata: { method: "self_service" },
  });
  await runBatch(db, [
    ...useToken(ctx, row.id),
    usersRepo.updateUser(db, user.accountId, user.id, {
      passwordHash: await hashPassword(newPassword, env.PASSWORD_PEPPER),
      mustChangePassword: false,
      updatedAt: now,
    }),
    revokeUserSessions(db, user.accountId, user.id, now),
    insertEvent(db, event),
  ]);
  publish(ctx, [event]);
  forgetToken(ctx, row.tokenHash);
}

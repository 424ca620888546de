/** The signed-in user's own profile and password. */
import { by, type EventInput } from "../activity/record";
import { throttle } from "../auth/rate-limit";
import { revokeUserSessions } from "../auth/session-repo";
import { THROTTLE_WINDOW_MS } from "../auth/throttle";
import { effectivePermissions } from "../authz/authorize";
import type { AuthedCtx } from "../context";
import { commit } from "../db/commit";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "../lib/password";
import { dropPendingEmail, emailChangeStatements } from "../lifecycle/email-change";
import { supersedeTokens } from "../user-tokens/tokens";
import { toUserDto } from "../users/dto";
import * as usersRepo from "../users/repo";

/** Everything comes from the principal loaded by the auth middleware: no further D1 round trip. */
export function describeMe(ctx: AuthedCtx) {
  const { principal: p } = ctx;
  return {
    ...toUserDto(p.user, p.groupIds),
    groups: p.groups,
    permissions: effectivePermissions(p.grants),
    account: { id: p.account.id, name: p.account.name, plan: p.account.planId },
    authenticated_via:
      p.kind === "api_token"
        ? { type: "api_token", id: p.tokenId }
        : { type: "session", id: p.sessionId },
  };
}

const selfEvent = (
  ctx: AuthedCtx,
  type: "user.updated" | "user.password_changed",
  metadata?: Record<string, unknown>,
) =>
  ({
    type,
    ...by(ctx.principal),
    subject: { type: "user", id: ctx.principal.userId },
    metadata,
  }) satisfies EventInput;

/** Guesses at the current password from one session's user are limited like logins. */
const CURRENT_PASSWORD_LIMIT = 10;

async function checkCurrentPassword(ctx: AuthedCtx, password: string) {
  // Counted before hashing, so a stolen session cannot guess in parallel past the limit.
  const key = { key: `current:${ctx.principal.userId}`, limit: CURRENT_PASSWORD_LIMIT };
  await throttle(
    ctx,
    [key],
    THROTTLE_WINDOW_MS,
    "Too many attempts at the current password. Try again later.",
  );
  const stored = ctx.principal.user.passwordHash;
  if (!stored || !(await verifyPassword(password, stored, ctx.config.passwords))) {
    throw new AppError("invalid_current_password", "The current password is incorrect.", {
      errors: [
        {
          path: "current_password",
          code: "invalid_current_password",
          message: "Incorrect password.",
        },
      ],
    });
  }
}

/**
 * Names change at once; a new email needs the current password and waits as
 * `pending_email` until its link is confirmed.
 */
export async function updateMe(
  ctx: AuthedCtx,
  input: { first_name?: string; last_name?: string; email?: string; current_password?: string },
) {
  const { db, now, principal } = ctx;
  // An API token could otherwise move its owner's email elsewhere and take the account over.
  if (principal.kind !== "session")
    throw new AppError(
      "forbidden",
      "The profile is changed from a login session, not with an API token.",
    );
  if (input.email !== undefined) await checkCurrentPassword(ctx, input.current_password ?? "");
  const set = {
    ...(input.first_name !== undefined ? { firstName: input.first_name } : {}),
    ...(input.last_name !== undefined ? { lastName: input.last_name } : {}),
  };
  const named = Object.keys(set).length > 0;
  const emailChange =
    input.email !== undefined
      ? await emailChangeStatements(ctx, principal.user, input.email)
      : null;
  const event = named
    ? selfEvent(ctx, "user.updated", {
        changes: { first_name: input.first_name, last_name: input.last_name },
      })
    : null;
  const statements = [
    ...(named
      ? [
          usersRepo.updateUser(db, principal.accountId, principal.userId, {
            ...set,
            updatedAt: now,
          }),
        ]
      : []),
    ...(emailChange?.statements ?? []),
  ];
  if (statements.length > 0) {
    await commit(ctx, statements, [...(event ? [event] : []), ...(emailChange?.events ?? [])]);
    await emailChange?.after();
  }
  const pendingEmail = emailChange?.events.length
    ? normalizeEmail(input.email!)
    : emailChange
      ? null
      : principal.user.pendingEmail;
  return describeMe({
    ...ctx,
    principal: { ...principal, user: { ...principal.user, ...set, pendingEmail, updatedAt: now } },
  });
}

/** Clears must_change_password, ends every other session and drops a pending email change. */
export async function changePassword(
  ctx: AuthedCtx,
  input: { current_password: string; new_password: string },
) {
  const { db, now, principal, config } = ctx;
  if (principal.kind !== "session")
    throw new AppError(
      "forbidden",
      "Passwords are changed from a login session, not with an API token.",
    );
  await checkCurrentPassword(ctx, input.current_password);
  checkPasswordPolicy(
    input.new_password,
    { email: principal.user.email, accountName: principal.account.name },
    "new_password",
  );
  if (input.new_password === input.current_password) {
    throw new AppError("weak_password", "The new password must differ from the current one.", {
      errors: [
        { path: "new_password", code: "weak_password", message: "Same as the current password." },
      ],
    });
  }
  const dropped = dropPendingEmail(ctx, principal.user, "password_changed", by(principal));
  const statements = [
    usersRepo.updateUser(db, principal.accountId, principal.userId, {
      passwordHash: await hashPassword(input.new_password, config.passwords),
      mustChangePassword: false,
      updatedAt: now,
    }),
    revokeUserSessions(
      db,
      principal.accountId,
      principal.userId,
      now,
      principal.sessionId ?? undefined,
    ),
    // Reset links mailed before the change must not undo it.
    supersedeTokens(ctx, principal.accountId, principal.userId, "password_reset"),
    ...dropped.statements,
  ];
  await commit(ctx, statements, [selfEvent(ctx, "user.password_changed"), ...dropped.events]);
}

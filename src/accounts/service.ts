/** Accounts: creation by platform support, and what members see of their own account. */
import { sql } from "drizzle-orm";
import { actorOf, buildEvent, insertEvent, publish } from "../activity/record";
import { normalizeEmail } from "../auth/service";
import type { PlanId } from "../billing/service";
import type { AuthedCtx, Ctx } from "../context";
import { guard, runBatch } from "../db/batch";
import type { AccountSettings } from "../db/schema";
import * as groupsRepo from "../groups/repo";
import { invitationStatements, mailInvitation, toInvitationDto } from "../invitations/service";
import { iso } from "../lib/clock";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { toUserDto } from "../users/dto";
import * as usersRepo from "../users/repo";
import * as repo from "./repo";
import { DEFAULT_SETTINGS } from "./settings";

export { DEFAULT_SETTINGS };

export function managedBy(resellerName: string | null, resellerId: string | null) {
  return resellerId
    ? { type: "reseller" as const, id: resellerId, name: resellerName ?? "" }
    : { type: "direct" as const };
}

export function toAccountDto(found: NonNullable<Awaited<ReturnType<typeof repo.findAccount>>>) {
  const { account, plan, resellerName } = found;
  return {
    id: account.id,
    name: account.name,
    plan: account.planId,
    features: plan.features,
    managed_by: managedBy(resellerName, account.resellerId),
    settings: { ...DEFAULT_SETTINGS, ...account.settings },
    created_at: iso(account.createdAt)!,
  };
}

export async function describeAccount(ctx: AuthedCtx) {
  const { account, plan } = ctx.principal;
  const resellerName = account.resellerId
    ? await repo.resellerName(ctx.db, account.resellerId)
    : null;
  return toAccountDto({ account, plan, resellerName });
}

export async function updateAccount(
  ctx: AuthedCtx,
  input: { name?: string; settings?: Partial<AccountSettings> },
) {
  const { db, now, principal } = ctx;
  const settings = input.settings
    ? { ...DEFAULT_SETTINGS, ...principal.account.settings, ...input.settings }
    : undefined;
  const event = buildEvent(ctx, {
    type: "account.updated",
    accountId: principal.accountId,
    actor: actorOf(principal),
    subject: { type: "account", id: principal.accountId },
    method: principal.method,
    metadata: { changes: input },
  });
  await runBatch(db, [
    repo.updateAccount(db, principal.accountId, {
      ...(input.name ? { name: input.name } : {}),
      ...(settings ? { settings } : {}),
      updatedAt: now,
    }),
    insertEvent(db, event),
  ]);
  publish(ctx, [event]);
  return toAccountDto((await repo.findAccount(db, principal.accountId))!);
}

export interface CreateAccountInput {
  name: string;
  plan: PlanId;
  admin_email: string;
  admin_password?: string;
  reseller_id?: string;
}

/**
 * Creates the account, its built-in groups and its first administrator, all in one batch:
 * created at once with `admin_password`, otherwise invited by email into Administrators.
 */
export async function createAccount(
  ctx: Ctx,
  input: CreateAccountInput,
  actor: { type: "platform" | "reseller"; id: string | null },
) {
  const { db, now, env } = ctx;
  const email = normalizeEmail(input.admin_email);
  if (input.admin_password !== undefined)
    checkPasswordPolicy(input.admin_password, { email, accountName: input.name }, "admin_password");
  const accountId = newId("account");
  const builtins = groupsRepo.builtinGroupInserts(db, accountId, now);
  const accountEvent = buildEvent(ctx, {
    type: "account.created",
    accountId,
    actor,
    subject: { type: "account", id: accountId },
    metadata: { name: input.name, plan: input.plan, reseller_id: input.reseller_id ?? null },
  });
  const head = [
    guard("email_taken", sql`NOT EXISTS (SELECT 1 FROM users WHERE email = ${email})`),
    ...(input.reseller_id
      ? [
          guard(
            "validation_failed",
            sql`EXISTS (SELECT 1 FROM resellers WHERE id = ${input.reseller_id})`,
          ),
        ]
      : []),
    repo.insertAccount(db, {
      id: accountId,
      name: input.name,
      planId: input.plan,
      userLimit: null,
      deviceLimit: null,
      resellerId: input.reseller_id ?? null,
      settings: DEFAULT_SETTINGS,
      createdAt: now,
      updatedAt: now,
    }),
    ...builtins.queries,
    insertEvent(db, accountEvent),
  ];
  const unknownReseller = (err: unknown): never => {
    if (err instanceof AppError && err.code === "validation_failed") {
      throw new AppError("validation_failed", "No such reseller.", {
        errors: [{ path: "reseller_id", code: "unknown_id", message: "Unknown reseller." }],
      });
    }
    throw err;
  };

  if (input.admin_password === undefined) {
    const invite = await invitationStatements(
      ctx,
      accountId,
      { email, groupIds: [builtins.ids.administrators] },
      null,
      actor,
      DEFAULT_SETTINGS.invitation_ttl_hours,
      null,
    );
    await runBatch(db, [...head, ...invite.statements]).catch(unknownReseller);
    publish(ctx, [accountEvent, invite.event]);
    await invite.token.index();
    const delivery = await mailInvitation(
      ctx,
      email,
      input.name,
      null,
      invite.token.token,
      invite.row.expiresAt,
    );
    const invitation = { ...toInvitationDto(invite.row, now), email_delivery: delivery };
    return {
      account: toAccountDto((await repo.findAccount(db, accountId))!),
      admin: invitation,
      invitation,
    };
  }

  const userId = newId("user");
  const admin = {
    id: userId,
    accountId,
    email,
    pendingEmail: null,
    firstName: "Account",
    lastName: "Administrator",
    passwordHash: await hashPassword(input.admin_password, env.PASSWORD_PEPPER),
    mustChangePassword: false,
    status: "active" as const,
    createdVia: "bootstrap" as const,
    createdBy: null,
    emailVerifiedAt: null,
    createdAt: now,
    updatedAt: now,
    lastLoginAt: null,
    lastLoginIp: null,
    lastLoginMethod: null,
  };
  const userEvent = buildEvent(ctx, {
    type: "user.created",
    accountId,
    actor,
    subject: { type: "user", id: userId },
    metadata: { created_via: "bootstrap", created_by: actor, email },
  });
  await runBatch(db, [
    ...head,
    usersRepo.insertUser(db, admin),
    groupsRepo.insertMemberships(db, accountId, userId, [builtins.ids.administrators], now),
    insertEvent(db, userEvent),
  ]).catch(unknownReseller);
  publish(ctx, [accountEvent, userEvent]);
  return {
    account: toAccountDto((await repo.findAccount(db, accountId))!),
    admin: toUserDto(admin, [builtins.ids.administrators]),
    invitation: null,
  };
}

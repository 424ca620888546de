/** Accounts: creation by platform support, and what members see of their own account. */
import { by, type EventInput } from "../activity/record";
import type { PlanId } from "../billing/plans";
import type { AuthedCtx, Ctx } from "../context";
import { guard } from "../db/batch";
import { commit } from "../db/commit";
import type { AccountSettings } from "../db/schema";
import * as groupsRepo from "../groups/repo";
import { queueInvitationMail } from "../invitations/mail";
import { invitation, toInvitationDto } from "../invitations/service";
import { iso } from "../lib/clock";
import { normalizeEmail } from "../lib/email";
import { newId } from "../lib/ids";
import { checkPasswordPolicy, hashPassword } from "../lib/password";
import { resellerExists } from "../resellers/repo";
import { toUserDto } from "../users/dto";
import * as usersRepo from "../users/repo";
import * as repo from "./repo";
import { DEFAULT_SETTINGS } from "./settings";

export function managedBy(resellerName: string | null, resellerId: string | null) {
  return resellerId
    ? { type: "reseller" as const, id: resellerId, name: resellerName ?? "" }
    : { type: "direct" as const };
}

function toAccountDto(found: NonNullable<Awaited<ReturnType<typeof repo.findAccount>>>) {
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
  const { accountId } = principal;
  const settings = input.settings
    ? { ...DEFAULT_SETTINGS, ...principal.account.settings, ...input.settings }
    : undefined;
  const set = {
    ...(input.name ? { name: input.name } : {}),
    ...(settings ? { settings } : {}),
    updatedAt: now,
  };
  await commit(
    ctx,
    [repo.updateAccount(db, accountId, set)],
    [
      {
        type: "account.updated",
        ...by(principal),
        subject: { type: "account", id: accountId },
        metadata: { changes: input },
      },
    ],
  );
  return toAccountDto((await repo.findAccount(db, accountId))!);
}

interface CreateAccountInput {
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
  const { db, now, config } = ctx;
  const email = normalizeEmail(input.admin_email);
  if (input.admin_password !== undefined) {
    checkPasswordPolicy(input.admin_password, { email, accountName: input.name }, "admin_password");
  }
  const accountId = newId("account");
  const builtins = groupsRepo.builtinGroupInserts(db, accountId, now);
  const events: EventInput[] = [
    {
      type: "account.created",
      accountId,
      actor,
      subject: { type: "account", id: accountId },
      metadata: { name: input.name, plan: input.plan, reseller_id: input.reseller_id ?? null },
    },
  ];
  const head = [
    usersRepo.guardEmailFreeAcrossAccounts(email),
    ...(input.reseller_id
      ? [guard("validation_failed", resellerExists(input.reseller_id), "reseller_id")]
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
  ];
  const created = async () => toAccountDto((await repo.findAccount(db, accountId))!);

  if (input.admin_password === undefined) {
    const inviter = { userId: null, name: null, by: { actor }, authority: null };
    // Members is everyone's group, the first administrator's too.
    const groupIds = [builtins.ids.administrators, builtins.ids.members];
    const ttl = DEFAULT_SETTINGS.invitation_ttl_hours;
    const invite = await invitation(ctx, accountId, { email, groupIds }, inviter, ttl);
    await commit(ctx, [...head, ...invite.statements], [...events, ...invite.events]);
    queueInvitationMail(ctx, [invite.row]);
    const sent = toInvitationDto(invite.row, now);
    return { account: await created(), admin: sent, invitation: sent };
  }

  const admin = usersRepo.newUserRow({
    id: newId("user"),
    accountId,
    email,
    firstName: "Account",
    lastName: "Administrator",
    passwordHash: await hashPassword(input.admin_password, config.passwords),
    createdVia: "bootstrap",
    createdBy: null,
    now,
  });
  const adminGroups = [builtins.ids.administrators, builtins.ids.members];
  await commit(
    ctx,
    [
      ...head,
      usersRepo.insertUser(db, admin),
      groupsRepo.insertMemberships(accountId, admin.id, adminGroups, now),
    ],
    [
      ...events,
      {
        type: "user.created",
        accountId,
        actor,
        subject: { type: "user", id: admin.id },
        metadata: { created_via: "bootstrap", created_by: actor, email },
      },
    ],
  );
  return {
    account: await created(),
    admin: toUserDto(admin, [...adminGroups].sort()),
    invitation: null,
  };
}

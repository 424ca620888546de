/** Billing & Limits: what an account may use, and the changes that support, resellers and admins make. */
import { managedBy } from "../accounts/service";
import type { EventInput } from "../activity/record";
import type { Ctx } from "../context";
import { commitLimits } from "../db/commit";
import { AppError } from "../lib/errors";
import type { PlanId } from "./plans";
import * as repo from "./repo";

export function toLimitsDto(u: repo.UsageRow) {
  const seats = u.active_users + u.pending_invitations;
  return {
    plan: u.plan,
    users: {
      limit: u.user_limit,
      active: u.active_users,
      pending_invitations: u.pending_invitations,
      available: Math.max(0, u.user_limit - seats),
      override: u.user_limit_override,
    },
    devices: {
      limit: u.device_limit,
      used: u.devices,
      available: Math.max(0, u.device_limit - u.devices),
      override: u.device_limit_override,
    },
    managed_by: managedBy(u.reseller_name, u.reseller_id),
  };
}

export async function describeLimits(ctx: Ctx, accountId: string) {
  const usage = await repo.loadUsage(ctx.db, accountId, ctx.now);
  if (!usage) throw new AppError("not_found", "No such account.");
  return toLimitsDto(usage);
}

/**
 * The seats free now, and what a refusal would say. A hint for work too costly to do for a
 * row that cannot fit (hashing a password); the account's object still decides each write.
 */
export async function seatsAvailable(ctx: Ctx, accountId: string) {
  const usage = await repo.loadUsage(ctx.db, accountId, ctx.now);
  if (!usage) throw new AppError("not_found", "No such account.");
  return {
    available: toLimitsDto(usage).users.available,
    refusal: { plan: usage.plan, limit: usage.user_limit, reseller: usage.reseller_name },
  };
}

export interface CapacityChange {
  plan?: PlanId;
  /** null clears the override, so the plan's number applies again. */
  user_limit?: number | null;
  device_limit?: number | null;
}

/**
 * Changes the plan and/or overrides. Runs in the account's object, serialized with every
 * seat-consuming write, and refuses (409 `limit_below_usage`) a limit under current use.
 */
export async function changeCapacity(
  ctx: Ctx,
  accountId: string,
  change: CapacityChange,
  by: Pick<EventInput, "actor" | "method">,
) {
  const before = await repo.loadUsage(ctx.db, accountId, ctx.now);
  if (!before) throw new AppError("not_found", "No such account.");
  const plan = change.plan ?? before.plan;
  const override = <T>(value: T | undefined, current: T) => (value !== undefined ? value : current);
  const events: EventInput[] = [];
  const common = { accountId, ...by, subject: { type: "account", id: accountId } } as const;
  if (plan !== before.plan) {
    const metadata = { from: before.plan, to: plan };
    events.push({ ...common, type: "account.plan_changed", metadata });
  }
  if (change.user_limit !== undefined || change.device_limit !== undefined) {
    events.push({
      ...common,
      type: "account.capacity_changed",
      metadata: {
        user_limit: {
          from: before.user_limit_override,
          to: override(change.user_limit, before.user_limit_override),
        },
        device_limit: {
          from: before.device_limit_override,
          to: override(change.device_limit, before.device_limit_override),
        },
      },
    });
  }
  if (events.length > 0) {
    const limits = {
      plan: change.plan,
      userLimit: change.user_limit,
      deviceLimit: change.device_limit,
    };
    await commitLimits(ctx, accountId, limits, events).catch((err) => {
      if (!(err instanceof AppError) || err.code !== "limit_below_usage") throw err;
      const seats = before.active_users + before.pending_invitations;
      throw new AppError(
        "limit_below_usage",
        `The account uses ${seats} seats (including pending invitations) and ${before.devices} devices; the new limits would be below that. Remove users, invitations or devices first.`,
        { usage: { seats, devices: before.devices } },
      );
    });
  }
  return describeLimits(ctx, accountId);
}

/** An account admin's own plan change: only for accounts that no reseller manages. */
export async function changeOwnPlan(
  ctx: Ctx,
  accountId: string,
  resellerId: string | null,
  plan: PlanId,
  by: Pick<EventInput, "actor" | "method">,
) {
  if (resellerId) {
    const usage = await repo.loadUsage(ctx.db, accountId, ctx.now);
    const name = usage?.reseller_name ?? null;
    throw new AppError(
      "managed_by_reseller",
      `This account's plan is managed by ${name ?? "its reseller"}; ask them to change it.`,
      { managed_by: { type: "reseller", name } },
    );
  }
  return changeCapacity(ctx, accountId, { plan }, by);
}

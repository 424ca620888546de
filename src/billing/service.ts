/** Billing & Limits: what an account may use, and the changes that support, resellers and admins make. */
import { sql } from "drizzle-orm";
import { managedBy } from "../accounts/service";
import {
  type ActorType,
  buildEvent,
  type EventRow,
  insertEvent,
  publish,
} from "../activity/record";
import { consumeCapacity } from "../capacity/consume";
import { seatsUsed } from "../capacity/limits";
import type { AuthMethod, Ctx } from "../context";
import { guard } from "../db/batch";
import { accounts } from "../db/schema";
import { AppError } from "../lib/errors";
import * as repo from "./repo";

export const PLAN_IDS = ["free", "team", "business", "enterprise"] as const;
export type PlanId = (typeof PLAN_IDS)[number];

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
  actor: { type: ActorType; id: string | null },
  method: AuthMethod | null = null,
) {
  const { db, now } = ctx;
  const before = await repo.loadUsage(db, accountId, now);
  if (!before) throw new AppError("not_found", "No such account.");
  const plan = change.plan ?? before.plan;
  const userOverride =
    change.user_limit !== undefined ? change.user_limit : before.user_limit_override;
  const deviceOverride =
    change.device_limit !== undefined ? change.device_limit : before.device_limit_override;
  // What the change leaves alone is read from the row inside the batch, not from `before`:
  // a concurrent change to another field (serialized ahead of this one) must not be undone.
  const current = (column: "plan_id" | "user_limit" | "device_limit") =>
    sql`(SELECT ${sql.identifier(column)} FROM accounts WHERE id = ${accountId})`;
  const planOf = change.plan !== undefined ? sql`${change.plan}` : current("plan_id");
  const newUserLimit = sql`coalesce(${change.user_limit !== undefined ? sql`${change.user_limit}` : current("user_limit")}, (SELECT user_limit FROM plans WHERE id = ${planOf}))`;
  const newDeviceLimit = sql`coalesce(${change.device_limit !== undefined ? sql`${change.device_limit}` : current("device_limit")}, (SELECT device_limit FROM plans WHERE id = ${planOf}))`;

  const events: EventRow[] = [];
  const common = { accountId, actor, method, subject: { type: "account", id: accountId } } as const;
  if (plan !== before.plan)
    events.push(
      buildEvent(ctx, {
        ...common,
        type: "account.plan_changed",
        metadata: { from: before.plan, to: plan },
      }),
    );
  if (change.user_limit !== undefined || change.device_limit !== undefined) {
    events.push(
      buildEvent(ctx, {
        ...common,
        type: "account.capacity_changed",
        metadata: {
          user_limit: { from: before.user_limit_override, to: userOverride },
          device_limit: { from: before.device_limit_override, to: deviceOverride },
        },
      }),
    );
  }
  if (events.length > 0) {
    await consumeCapacity(
      ctx,
      accountId,
      "users",
      [
        guard("limit_below_usage", sql`${seatsUsed(accountId, now)} <= ${newUserLimit}`),
        guard(
          "limit_below_usage",
          sql`(SELECT count(*) FROM devices WHERE account_id = ${accountId}) <= ${newDeviceLimit}`,
        ),
        db
          .update(accounts)
          .set({
            ...(change.plan !== undefined ? { planId: change.plan } : {}),
            ...(change.user_limit !== undefined ? { userLimit: change.user_limit } : {}),
            ...(change.device_limit !== undefined ? { deviceLimit: change.device_limit } : {}),
            updatedAt: now,
          })
          .where(sql`${accounts.id} = ${accountId}`),
        ...events.map((e) => insertEvent(db, e)),
      ],
      { actor, method },
    ).catch((err) => {
      if (err instanceof AppError && err.code === "limit_below_usage") {
        throw new AppError(
          "limit_below_usage",
          `The account uses ${before.active_users + before.pending_invitations} seats (including pending invitations) and ${before.devices} devices; the new limits would be below that. Remove users, invitations or devices first.`,
          {
            usage: {
              seats: before.active_users + before.pending_invitations,
              devices: before.devices,
            },
          },
        );
      }
      throw err;
    });
    publish(ctx, events);
  }
  return describeLimits(ctx, accountId);
}

/** An account admin's own plan change: only for accounts that no reseller manages. */
export async function changeOwnPlan(
  ctx: Ctx,
  accountId: string,
  resellerId: string | null,
  plan: PlanId,
  actor: { type: ActorType; id: string },
  method: AuthMethod,
) {
  if (resellerId) {
    const usage = await repo.loadUsage(ctx.db, accountId, ctx.now);
    throw new AppError(
      "managed_by_reseller",
      `This account's plan is managed by ${usage?.reseller_name ?? "its reseller"}; ask them to change it.`,
      {
        managed_by: { type: "reseller", name: usage?.reseller_name ?? null },
      },
    );
  }
  return changeCapacity(ctx, accountId, { plan }, actor, method);
}

/** Groups and their grants. */
import { by, type EventInput } from "../activity/record";
import { assertGrantsWithin, authorityOf } from "../authz/delegation";
import { groupsWithin } from "../authz/repo";
import type { AuthedCtx } from "../context";
import { guard } from "../db/batch";
import type { Database } from "../db/client";
import { commit } from "../db/commit";
import { read, runRead, statementOf } from "../db/read";
import { iso } from "../lib/clock";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as repo from "./repo";
import type { GrantInput, GroupDto } from "./schemas";

export function toGroupDto({ group, memberCount, grants }: repo.GroupWithDetails): GroupDto {
  return {
    id: group.id,
    name: group.name,
    description: group.description,
    builtin: group.builtin !== null,
    grants: grants.map((g) => ({ permission: g.permission, scope: g.scope ?? null })),
    member_count: memberCount,
    created_at: iso(group.createdAt)!,
    updated_at: iso(group.updatedAt)!,
  };
}

/** A page of the account's groups, as a read that can go in the principal's D1 batch. */
export function groupsPage(db: Database, accountId: string, limit: number, cursor?: string) {
  return read(
    statementOf(db, repo.listGroupsQuery(db, accountId, limit, decodeCursor(cursor))),
    (rows) => toPage(repo.groupsFromRows(rows), limit, toGroupDto, (r) => r.group.id),
  );
}

/** One group of the account with its grants and member count, as a read; 404 when absent. */
export function groupById(db: Database, accountId: string, id: string) {
  return read(statementOf(db, repo.findGroupQuery(db, accountId, id)), (rows) => {
    const found = repo.groupFromRows(rows);
    if (!found) throw new AppError("not_found", "No such group.");
    return found;
  });
}

export async function getGroup(ctx: AuthedCtx, id: string) {
  return runRead(groupById(ctx.db, ctx.principal.accountId, id));
}

/** Scoped grants may only name device organizations of this account. */
async function checkGrants(ctx: AuthedCtx, grants: GrantInput[]) {
  const orgIds = [...new Set(grants.flatMap((g) => g.scope?.device_organization_ids ?? []))];
  const found = new Set(
    await repo.existingDeviceOrganizationIds(ctx.db, ctx.principal.accountId, orgIds),
  );
  const missing = orgIds.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw new AppError("validation_failed", `Unknown device organization: ${missing.join(", ")}.`, {
      errors: missing.map((id) => ({
        path: "grants.scope.device_organization_ids",
        code: "unknown_id",
        message: `Unknown device organization ${id}.`,
      })),
    });
  }
  const list = grants.map((g) => ({ permission: g.permission, scope: g.scope ?? null }));
  assertGrantsWithin(authorityOf(ctx.principal.grants), list);
  return list;
}

export async function createGroup(
  ctx: AuthedCtx,
  input: { name: string; description?: string | null; grants: GrantInput[] },
) {
  const { db, now, principal } = ctx;
  const grants = await checkGrants(ctx, input.grants);
  const id = newId("group");
  const event: EventInput = {
    type: "group.created",
    ...by(principal),
    subject: { type: "group", id },
    metadata: { name: input.name, grants },
  };
  const group: repo.GroupRow = {
    id,
    accountId: principal.accountId,
    name: input.name,
    description: input.description ?? null,
    builtin: null,
    createdAt: now,
    updatedAt: now,
    createdVia: "manual",
    externalId: null,
  };
  await commit(
    ctx,
    [
      repo.insertGroup(db, group),
      ...(grants.length ? [repo.insertGrants(principal.accountId, id, grants)] : []),
    ],
    [event],
  );
  // The batch wrote exactly this, so the answer needs no read after it.
  return { group, memberCount: 0, grants };
}

/**
 * Changing or deleting a group needs every grant it holds now, not only the new ones:
 * otherwise anyone with groups:write could empty, rename or remove a group above them.
 * Checked in the write's batch, so it sees the grants as they are at commit time.
 */
const holdsGroup = (ctx: AuthedCtx, id: string) =>
  guard(
    "permission_not_held",
    groupsWithin(ctx.principal.accountId, authorityOf(ctx.principal.grants), [id]),
  );

export async function updateGroup(
  ctx: AuthedCtx,
  id: string,
  input: { name?: string; description?: string | null; grants?: GrantInput[] },
) {
  const { db, now, principal } = ctx;
  const current = await getGroup(ctx, id);
  if (current.group.builtin === "administrators" && input.grants !== undefined) {
    throw new AppError("group_builtin", "The Administrators group always holds every permission.");
  }
  if (current.group.builtin && input.name !== undefined && input.name !== current.group.name) {
    throw new AppError("group_builtin", "Built-in groups cannot be renamed.");
  }
  const grants = input.grants ? await checkGrants(ctx, input.grants) : undefined;
  const event: EventInput = {
    type: "group.updated",
    ...by(principal),
    subject: { type: "group", id },
    metadata: { changes: input },
  };
  await commit(
    ctx,
    [
      holdsGroup(ctx, id),
      repo.updateGroup(db, principal.accountId, id, {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        updatedAt: now,
      }),
      ...(grants
        ? [
            repo.deleteGrants(db, principal.accountId, id),
            ...(grants.length ? [repo.insertGrants(principal.accountId, id, grants)] : []),
          ]
        : []),
    ],
    [event],
  );
  return (await repo.findGroup(db, principal.accountId, id))!;
}

export async function deleteGroup(ctx: AuthedCtx, id: string) {
  const { db, now, principal } = ctx;
  const current = await getGroup(ctx, id);
  if (current.group.builtin)
    throw new AppError("group_builtin", "Built-in groups cannot be deleted.");
  const { members } = await repo.findBuiltinGroupIds(db, principal.accountId);
  await commit(
    ctx,
    [
      holdsGroup(ctx, id),
      repo.moveOrphansToMembers(principal.accountId, id, members!, now),
      repo.deleteGroup(db, principal.accountId, id),
    ],
    [
      {
        type: "group.deleted",
        ...by(principal),
        subject: { type: "group", id },
        metadata: { name: current.group.name },
      },
    ],
  );
}

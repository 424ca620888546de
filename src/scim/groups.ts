/**
 * Groups over SCIM: the identity provider's groups become ours, created without grants
 * (administrators give them permissions in the API). SCIM reaches only the groups it
 * created, so it can never put anyone into Administrators or change a group an
 * administrator made. Membership changes apply on the next request of each member.
 */
import type { EventInput } from "../activity/record";
import type { ScimCtx } from "../context";
import { guard, type Statement } from "../db/batch";
import { commit } from "../db/commit";
import { moveOrphansToMembers } from "../groups/repo";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { byScim } from "./auth";
import { groupFilter } from "./filter";
import { applyGroupOp, type GroupChange, groupFromBody, noChange } from "./group-model";
import * as repo from "./group-repo";
import { invalidValue, patchOperations } from "./patch";
import { listResponse, type Paging, toScimGroup } from "./resources";

/** Each member added or removed is an event and a statement of one batch; this bounds it. */
const MAX_MEMBER_CHANGES = 1000;

export async function listScimGroups(
  ctx: ScimCtx,
  filter: string | undefined,
  page: Paging,
  withMembers: boolean,
) {
  const { accountId } = ctx.scim;
  const where = groupFilter(filter);
  const [found, total] = await Promise.all([
    repo.listScimGroups(ctx.db, accountId, where, page.startIndex - 1, page.count, withMembers),
    repo.countScimGroups(ctx.db, accountId, where),
  ]);
  return listResponse(
    found.map((r) => toScimGroup(ctx, r)),
    total,
    page,
  );
}

async function findOrThrow(ctx: ScimCtx, id: string) {
  const found = await repo.findScimGroup(ctx.db, ctx.scim.accountId, id);
  if (!found) throw new AppError("not_found", "No such group.");
  return found;
}

export async function getScimGroup(ctx: ScimCtx, id: string, withMembers: boolean) {
  const found = await findOrThrow(ctx, id);
  return toScimGroup(ctx, withMembers ? found : { ...found, members: null });
}

const groupEvent = (
  ctx: ScimCtx,
  type: EventInput["type"],
  groupId: string,
  metadata?: Record<string, unknown>,
): EventInput => ({ type, ...byScim(ctx.scim), subject: { type: "group", id: groupId }, metadata });

/**
 * Adds and removes members, with a `user.groups_changed` event for each user whose
 * membership really changes (decided inside the batch, so a repeated add records nothing).
 * The ids added must be users of the account.
 */
function membership(ctx: ScimCtx, groupId: string, add: string[], remove: string[]) {
  const { accountId } = ctx.scim;
  if (add.length + remove.length > MAX_MEMBER_CHANGES) {
    throw invalidValue(`At most ${MAX_MEMBER_CHANGES} member changes per request.`);
  }
  const statements: Statement[] = [];
  const events: EventInput[] = [];
  for (const userId of add) {
    events.push({
      type: "user.groups_changed",
      ...byScim(ctx.scim),
      subject: { type: "user", id: userId },
      metadata: { added: [groupId], removed: [] },
      when: repo.isMember(accountId, groupId, userId, false),
    });
  }
  for (const userId of remove) {
    events.push({
      type: "user.groups_changed",
      ...byScim(ctx.scim),
      subject: { type: "user", id: userId },
      metadata: { added: [], removed: [groupId] },
      when: repo.isMember(accountId, groupId, userId, true),
    });
  }
  if (add.length > 0) {
    statements.push(
      guard("invalid_value", repo.allUsersExist(accountId, add), "members"),
      repo.addMembers(accountId, groupId, add, ctx.now),
    );
  }
  if (remove.length > 0) statements.push(repo.removeMembers(accountId, groupId, remove));
  return { statements, events };
}

export async function createScimGroup(ctx: ScimCtx, body: Record<string, unknown>) {
  const { db, now, scim } = ctx;
  const input = groupFromBody(body);
  const id = newId("group");
  const members = [...new Set(input.members)];
  const joined = membership(ctx, id, members, []);
  await commit(
    ctx,
    [
      repo.insertScimGroup(db, {
        id,
        accountId: scim.accountId,
        name: input.name,
        externalId: input.externalId,
        now,
      }),
      ...joined.statements,
    ],
    [
      groupEvent(ctx, "group.created", id, {
        name: input.name,
        external_id: input.externalId,
        created_via: "scim",
        grants: [],
      }),
      ...joined.events,
    ],
  );
  return toScimGroup(ctx, await findOrThrow(ctx, id));
}

async function applyChange(ctx: ScimCtx, id: string, change: GroupChange) {
  const { db, now, scim } = ctx;
  const current = await findOrThrow(ctx, id);
  const present = new Set((current.members ?? []).map((m) => m.id));
  const add = change.members
    ? [...change.members].filter((m) => !present.has(m))
    : [...change.add].filter((m) => !present.has(m));
  const remove = change.members
    ? [...present].filter((m) => !change.members!.has(m))
    : [...change.remove].filter((m) => present.has(m));
  const changes: Record<string, unknown> = {};
  if (change.name !== undefined && change.name !== current.group.name) changes.name = change.name;
  if (change.externalId !== undefined && change.externalId !== current.group.externalId) {
    changes.external_id = change.externalId;
  }
  const renamed = Object.keys(changes).length > 0;
  if (!renamed && add.length === 0 && remove.length === 0) return current;
  const members = membership(ctx, id, add, remove);
  await commit(
    ctx,
    [
      // It may have been deleted since it was read.
      guard("not_found", repo.scimGroupExists(scim.accountId, id)),
      repo.updateScimGroup(db, scim.accountId, id, {
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(change.externalId !== undefined ? { externalId: change.externalId } : {}),
        updatedAt: now,
      }),
      ...members.statements,
    ],
    [...(renamed ? [groupEvent(ctx, "group.updated", id, { changes })] : []), ...members.events],
  );
  return findOrThrow(ctx, id);
}

/** PUT: the body is the whole group, members included. */
export async function replaceScimGroup(ctx: ScimCtx, id: string, body: Record<string, unknown>) {
  const input = groupFromBody(body);
  const change: GroupChange = {
    ...noChange(),
    name: input.name,
    externalId: input.externalId,
    members: new Set(input.members),
  };
  return toScimGroup(ctx, await applyChange(ctx, id, change));
}

export async function patchScimGroup(ctx: ScimCtx, id: string, body: Record<string, unknown>) {
  const change = patchOperations(body).reduce(applyGroupOp, noChange());
  await applyChange(ctx, id, change);
}

export async function deleteScimGroup(ctx: ScimCtx, id: string) {
  const { db, now, scim } = ctx;
  const current = await findOrThrow(ctx, id);
  await commit(
    ctx,
    [
      moveOrphansToMembers(scim.accountId, id, scim.membersGroupId, now),
      repo.deleteScimGroup(db, scim.accountId, id),
    ],
    [
      groupEvent(ctx, "group.deleted", id, {
        name: current.group.name,
        member_ids: (current.members ?? []).map((m) => m.id),
      }),
    ],
  );
}

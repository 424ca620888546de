/**
 * A group as SCIM writes it: `displayName`, `externalId` and `members` (user ids). A PATCH
 * becomes a name, an external id and a membership change (ids to add and to remove, or a
 * whole new member list), in the shapes Okta and Entra send.
 */
import {
  equalities,
  invalidValue,
  isObject,
  member,
  type PatchOp,
  parsePath,
  stringValue,
} from "./patch";
import { GROUP_SCHEMA } from "./resources";
import { EXTERNAL_ID_MAX } from "./user-model";

const NAME_MAX = 100;
const ID_MAX = 64;

export interface GroupChange {
  name?: string;
  externalId?: string | null;
  /** A whole new member list (PUT, `replace members`, `remove members` without a value). */
  members?: Set<string>;
  add: Set<string>;
  remove: Set<string>;
}

export const noChange = (): GroupChange => ({ add: new Set(), remove: new Set() });

export function displayName(v: unknown) {
  const name = stringValue(v, "displayName", NAME_MAX);
  if (name === "") throw invalidValue("displayName must not be empty.");
  return name;
}

const externalId = (v: unknown) =>
  v === null || v === undefined || v === "" ? null : stringValue(v, "externalId", EXTERNAL_ID_MAX);

/** `[{"value": "usr_…"}, …]` as ids. */
function memberIds(v: unknown): string[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((m, i) => {
    const id = isObject(m) ? member(m, "value") : undefined;
    if (typeof id !== "string" || id === "" || id.length > ID_MAX) {
      throw invalidValue(`members[${i}].value must be a user id.`);
    }
    return id;
  });
}

/** A POST or PUT body. */
export function groupFromBody(body: Record<string, unknown>) {
  const members = member(body, "members");
  return {
    name: displayName(member(body, "displayName")),
    externalId: externalId(member(body, "externalId")),
    members: members === undefined || members === null ? [] : memberIds(members),
  };
}

function addMembers(change: GroupChange, ids: string[]) {
  for (const id of ids) {
    if (change.members) change.members.add(id);
    else {
      change.add.add(id);
      change.remove.delete(id);
    }
  }
}

function removeMembers(change: GroupChange, ids: string[]) {
  for (const id of ids) {
    if (change.members) change.members.delete(id);
    else {
      change.remove.add(id);
      change.add.delete(id);
    }
  }
}

function replaceMembers(change: GroupChange, ids: string[]) {
  change.members = new Set(ids);
  change.add.clear();
  change.remove.clear();
}

/** Applies one operation to the change being built (changed in place). */
export function applyGroupOp(change: GroupChange, op: PatchOp): GroupChange {
  if (op.path === undefined) {
    // Okta's rename: `{"op":"replace","value":{"id":"grp_…","displayName":"…"}}`.
    if (!isObject(op.value)) throw invalidValue(`${op.op} without a path needs an object value.`);
    for (const [key, value] of Object.entries(op.value)) {
      applyGroupOp(change, { op: op.op, path: key, value });
    }
    return change;
  }
  const path = parsePath(op.path, GROUP_SCHEMA);
  if (path.extension) return change;
  switch (path.attr) {
    case "displayname":
      if (op.op === "remove") throw invalidValue("displayName cannot be removed.");
      change.name = displayName(op.value);
      return change;
    case "externalid":
      change.externalId = op.op === "remove" ? null : externalId(op.value);
      return change;
    case "members": {
      if (path.filter) {
        // `members[value eq "usr_…"]`: only removal names members this way.
        const selector = equalities(path.filter);
        if (op.op !== "remove" || path.sub || selector?.attr !== "value") {
          throw invalidValue(`Cannot ${op.op} ${op.path}.`);
        }
        removeMembers(
          change,
          selector.values.filter((v): v is string => typeof v === "string"),
        );
        return change;
      }
      if (path.sub) throw invalidValue(`Cannot ${op.op} ${op.path}.`);
      if (op.op === "add") addMembers(change, memberIds(op.value));
      else if (op.op === "replace") replaceMembers(change, memberIds(op.value ?? []));
      // Entra removes with a value list; without one, every member goes.
      else if (op.value === undefined || op.value === null) replaceMembers(change, []);
      else removeMembers(change, memberIds(op.value));
      return change;
    }
    default:
      // id, schemas, meta…: accepted, nothing to change.
      return change;
  }
}

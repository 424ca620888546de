/**
 * A user as SCIM reads and writes it, and how a SCIM body or PATCH becomes our fields:
 * `userName` is the email (so it must be one, or `emails` must hold one), `name.givenName`
 * and `familyName` are the first and last name, `active` is the status, `externalId` is
 * kept. Everything else an identity provider sends (the enterprise extension, titles,
 * phone numbers…) is accepted and not stored.
 */
import { z } from "@hono/zod-openapi";
import { normalizeEmail } from "../lib/email";
import {
  booleanValue,
  equalities,
  invalidValue,
  isObject,
  member,
  type PatchOp,
  parsePath,
  stringValue,
} from "./patch";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const NAME_MAX = 100;
const EMAIL_MAX = 254;
export const EXTERNAL_ID_MAX = 255;

/** What SCIM can change about a user. */
export interface UserState {
  userName: string;
  workEmail: string;
  givenName: string;
  familyName: string;
  active: boolean;
  externalId: string | null;
}

/** Our fields, once the state is checked. */
export interface UserFields {
  email: string;
  firstName: string;
  lastName: string;
  active: boolean;
  externalId: string | null;
}

const isEmail = (s: string) => s.length <= EMAIL_MAX && z.email().safeParse(s).success;

const name = (v: unknown, what: string) =>
  v === null || v === undefined ? "" : stringValue(v, what, NAME_MAX);

const externalId = (v: unknown) =>
  v === null || v === undefined || v === "" ? null : stringValue(v, "externalId", EXTERNAL_ID_MAX);

/** The work (or primary, or first) address of an `emails` array. */
function pickEmail(v: unknown): string {
  if (!Array.isArray(v)) throw invalidValue("emails must be an array.");
  const entries = v.map((e, i) => {
    if (!isObject(e)) throw invalidValue(`emails[${i}] must be an object.`);
    const type = member(e, "type");
    const primary = member(e, "primary");
    return {
      value: stringValue(member(e, "value"), `emails[${i}].value`, EMAIL_MAX),
      work: typeof type === "string" && type.toLowerCase() === "work",
      primary: primary !== undefined && booleanValue(primary, `emails[${i}].primary`),
    };
  });
  const chosen = entries.find((e) => e.primary) ?? entries.find((e) => e.work) ?? entries[0];
  return chosen?.value ?? "";
}

/** A POST or PUT body as a state; `current` supplies what a PUT may leave out (`active`). */
export function stateFromBody(body: Record<string, unknown>, current?: UserState): UserState {
  const userName = member(body, "userName");
  if (typeof userName !== "string" || userName.trim() === "") {
    throw invalidValue("userName is required.");
  }
  const names = member(body, "name");
  if (names !== undefined && names !== null && !isObject(names)) {
    throw invalidValue("name must be an object.");
  }
  const emails = member(body, "emails");
  const active = member(body, "active");
  return {
    userName: stringValue(userName, "userName", EMAIL_MAX),
    workEmail: emails === undefined || emails === null ? "" : pickEmail(emails),
    givenName: name(names ? member(names, "givenName") : undefined, "name.givenName"),
    familyName: name(names ? member(names, "familyName") : undefined, "name.familyName"),
    active:
      active === undefined || active === null
        ? (current?.active ?? true)
        : booleanValue(active, "active"),
    externalId: externalId(member(body, "externalId")),
  };
}

/** Applies one operation to the state (a copy is changed and returned). */
export function applyUserOp(state: UserState, op: PatchOp): UserState {
  if (op.path === undefined) {
    // Okta's `{"op":"replace","value":{"active":false}}`: each key is a path.
    if (!isObject(op.value)) throw invalidValue(`${op.op} without a path needs an object value.`);
    return Object.entries(op.value).reduce(
      (s, [key, value]) =>
        key.toLowerCase().startsWith("urn:") && isObject(value)
          ? s // an extension's whole object: nothing of it is stored
          : applyUserOp(s, { op: op.op, path: key, value }),
      state,
    );
  }
  const path = parsePath(op.path, USER_SCHEMA);
  if (path.extension) return state;
  const next = { ...state };
  const removing = op.op === "remove";
  switch (path.attr) {
    case "active":
      if (!removing) next.active = booleanValue(op.value, "active");
      return next;
    case "username":
      if (removing) throw invalidValue("userName cannot be removed.");
      next.userName = stringValue(op.value, "userName", EMAIL_MAX);
      return next;
    case "externalid":
      next.externalId = removing ? null : externalId(op.value);
      return next;
    case "name": {
      if (path.sub) {
        const v = removing ? "" : name(op.value, `name.${path.sub}`);
        if (path.sub === "givenname") next.givenName = v;
        if (path.sub === "familyname") next.familyName = v;
        return next;
      }
      if (removing) return { ...next, givenName: "", familyName: "" };
      if (!isObject(op.value)) throw invalidValue("name must be an object.");
      const given = member(op.value, "givenName");
      const family = member(op.value, "familyName");
      if (given !== undefined) next.givenName = name(given, "name.givenName");
      if (family !== undefined) next.familyName = name(family, "name.familyName");
      return next;
    }
    case "emails": {
      // Every user has exactly one address: removing it is not possible, and ignored.
      if (removing) return next;
      if (path.sub === "value" || path.filter) {
        const selector = path.filter ? equalities(path.filter) : null;
        const aimsAtWork =
          !path.filter ||
          (selector?.attr === "type" &&
            selector.values.some((v) => typeof v === "string" && v.toLowerCase() === "work")) ||
          (selector?.attr === "primary" && selector.values.includes(true));
        if (!aimsAtWork) return next;
        const value =
          path.sub === "value"
            ? op.value
            : isObject(op.value)
              ? member(op.value, "value")
              : op.value;
        next.workEmail = stringValue(value, "emails.value", EMAIL_MAX);
        return next;
      }
      next.workEmail = pickEmail(Array.isArray(op.value) ? op.value : [op.value]);
      return next;
    }
    default:
      // displayName, title, phoneNumbers, groups (read-only), id, meta…: accepted, not stored.
      return next;
  }
}

/**
 * The fields a state stands for. userName is the email; when it is not an address, the
 * work email is. `preferEmails` (a PATCH that changed only the emails) lets the work email
 * win, so changing either attribute changes the address.
 */
export function fieldsOf(state: UserState, preferEmails = false): UserFields {
  const candidates = preferEmails
    ? [state.workEmail, state.userName]
    : [state.userName, state.workEmail];
  const email = candidates.find((c) => isEmail(c.trim()));
  if (!email) throw invalidValue("userName (or a work email) must be an email address.");
  return {
    email: normalizeEmail(email),
    firstName: state.givenName,
    lastName: state.familyName,
    active: state.active,
    externalId: state.externalId,
  };
}

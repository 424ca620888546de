/**
 * SCIM filters (RFC 7644 §3.4.2.2), parsed with scim2-parse-filter and narrowed to what
 * identity providers send to find a resource: `userName eq`, `externalId eq`,
 * `emails[type eq "work"].value eq` (and `emails.value eq`) for users, `displayName eq` and
 * `externalId eq` for groups, joined by `and`. Anything else is 400 `invalidFilter`.
 */
import { type Filter, parse } from "scim2-parse-filter";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import type { ScimGroupFilter } from "./group-repo";
import type { ScimUserFilter } from "./user-repo";

const MAX_FILTER_LENGTH = 1000;
const USER_URN = "urn:ietf:params:scim:schemas:core:2.0:user:";
const GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:group:";

const unsupported = (
  detail = "Only eq filters on userName, externalId, emails and displayName are supported.",
) => new AppError("invalid_filter", detail);

function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw unsupported("The filter is too long.");
  try {
    return parse(text);
  } catch {
    // The parser's messages (and a stack overflow on deep nesting) say nothing useful.
    throw unsupported("The filter is not valid SCIM filter syntax.");
  }
}

/** An attribute path, lower-cased (SCIM attribute names ignore case), without the core URN. */
const attr = (path: string, urn: string) => {
  const lower = path.toLowerCase();
  return lower.startsWith(urn) ? lower.slice(urn.length) : lower;
};

/** `a eq "x"` as [attribute, value], or null. */
function equality(f: Filter, urn: string): [string, string] | null {
  if (f.op !== "eq" || !("compValue" in f) || typeof f.compValue !== "string") return null;
  return [attr(f.attrPath, urn), f.compValue];
}

/** The leaves of a tree of `and`s. */
const conjuncts = (f: Filter): Filter[] =>
  f.op === "and" && "filters" in f ? f.filters.flatMap(conjuncts) : [f];

/** Sets a filter field; a second, different value for it means nothing can match. */
function put<T extends { none?: boolean }>(into: T, key: keyof T, value: T[keyof T]) {
  if (into[key] !== undefined && into[key] !== value) into.none = true;
  into[key] = value;
}

const isWorkEmailSelector = (f: Filter) =>
  f.op === "[]" &&
  "valFilter" in f &&
  attr(f.attrPath, USER_URN) === "emails" &&
  (() => {
    const inner = equality(f.valFilter, "");
    return inner !== null && inner[0] === "type" && inner[1].toLowerCase() === "work";
  })();

export function userFilter(text: string | undefined): ScimUserFilter {
  if (text === undefined || text.trim() === "") return {};
  const out: ScimUserFilter = {};
  for (const leaf of conjuncts(parseFilter(text))) {
    // `emails[type eq "work"].value eq "x"` parses as the selector and `emails.value eq "x"`.
    if (isWorkEmailSelector(leaf)) continue;
    const eq = equality(leaf, USER_URN);
    if (!eq) throw unsupported();
    const [name, value] = eq;
    if (name === "username" || name === "emails.value" || name === "emails") {
      put(out, "email", normalizeEmail(value));
    } else if (name === "externalid") {
      put(out, "externalId", value);
    } else {
      throw unsupported(`Filtering on ${name} is not supported.`);
    }
  }
  return out;
}

export function groupFilter(text: string | undefined): ScimGroupFilter {
  if (text === undefined || text.trim() === "") return {};
  const out: ScimGroupFilter = {};
  for (const leaf of conjuncts(parseFilter(text))) {
    const eq = equality(leaf, GROUP_URN);
    if (!eq) throw unsupported("Only eq filters on displayName and externalId are supported.");
    const [name, value] = eq;
    if (name === "displayname") {
      if (out.name !== undefined && out.name.toLowerCase() !== value.toLowerCase()) out.none = true;
      out.name = value;
    } else if (name === "externalid") {
      put(out, "externalId", value);
    } else {
      throw unsupported(`Filtering on ${name} is not supported.`);
    }
  }
  return out;
}

/**
 * SCIM PATCH (RFC 7644 §3.5.2) as Okta and Microsoft Entra send it: operations `add`,
 * `replace` and `remove` in any case, with or without a `path`, values that are objects
 * keyed by attribute (or by a dotted path), booleans written as strings. This file reads
 * operations and paths; what a path means is the resource's business (user-patch.ts,
 * group-patch.ts).
 */
import { type Filter, parse } from "scim2-parse-filter";
import { AppError } from "../lib/errors";

export interface PatchOp {
  op: "add" | "replace" | "remove";
  path?: string;
  value?: unknown;
}

/** Enough for any sync; a body is at most 64 KiB anyway. */
const MAX_OPERATIONS = 1000;
const MAX_PATH_LENGTH = 500;

export const invalidValue = (detail: string) => new AppError("invalid_value", detail);
const invalidPath = (detail: string) => new AppError("invalid_path", detail);

/** A member of a JSON object looked up regardless of case (SCIM attribute names ignore it). */
export function member(obj: Record<string, unknown>, name: string): unknown {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === wanted) return obj[key];
  return undefined;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function patchOperations(body: Record<string, unknown>): PatchOp[] {
  const ops = member(body, "Operations");
  if (!Array.isArray(ops) || ops.length === 0) {
    throw invalidValue("Operations must be a non-empty array of PATCH operations.");
  }
  if (ops.length > MAX_OPERATIONS) {
    throw invalidValue(`At most ${MAX_OPERATIONS} operations per request.`);
  }
  return ops.map((raw, i) => {
    if (!isObject(raw)) throw invalidValue(`Operations[${i}] is not an object.`);
    const name = member(raw, "op");
    const op = typeof name === "string" ? name.toLowerCase() : "";
    if (op !== "add" && op !== "replace" && op !== "remove") {
      throw invalidValue(`Operations[${i}].op must be add, replace or remove.`);
    }
    const path = member(raw, "path");
    if (path !== undefined && path !== null && typeof path !== "string") {
      throw invalidPath(`Operations[${i}].path must be a string.`);
    }
    const value = member(raw, "value");
    if (op === "remove" && (path === undefined || path === null || path === "")) {
      throw new AppError("invalid_path", `Operations[${i}]: remove needs a path.`, {
        scimType: "noTarget",
      });
    }
    if (op !== "remove" && value === undefined) {
      throw invalidValue(`Operations[${i}]: ${op} needs a value.`);
    }
    return { op, ...(path ? { path } : {}), value };
  });
}

/** A parsed attribute path: `attr[filter].sub`, with any schema URN set aside. */
export interface Path {
  /** Lower-cased attribute name. */
  attr: string;
  filter?: Filter;
  /** Lower-cased sub-attribute. */
  sub?: string;
  /** Set when the path is an extension's (not the core schema's): identity providers send many. */
  extension?: string;
}

const PATH = /^([A-Za-z][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z][\w$-]*))?$/;

export function parsePath(raw: string, coreUrn: string): Path {
  if (raw.length > MAX_PATH_LENGTH) throw invalidPath("The path is too long.");
  let rest = raw.trim();
  const lower = rest.toLowerCase();
  if (lower.startsWith(`${coreUrn.toLowerCase()}:`)) {
    rest = rest.slice(coreUrn.length + 1);
  } else if (lower.startsWith("urn:")) {
    // `urn:…:enterprise:2.0:User:department`: the schema is everything before the last colon.
    const colon = rest.lastIndexOf(":");
    const schema = rest.slice(0, colon);
    const attr = rest.slice(colon + 1);
    if (!/^[A-Za-z][\w$.-]*$/.test(attr)) throw invalidPath(`Cannot read the path ${raw}.`);
    return { attr: attr.toLowerCase(), extension: schema };
  }
  const m = PATH.exec(rest);
  if (!m) throw invalidPath(`Cannot read the path ${raw}.`);
  let filter: Filter | undefined;
  if (m[2] !== undefined) {
    try {
      filter = parse(m[2]);
    } catch {
      throw invalidPath(`Cannot read the filter in the path ${raw}.`);
    }
  }
  return {
    attr: m[1]!.toLowerCase(),
    ...(filter ? { filter } : {}),
    ...(m[3] ? { sub: m[3].toLowerCase() } : {}),
  };
}

/** true/false, also as the strings Entra sends ("True", "False"). */
export function booleanValue(v: unknown, what: string): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v.trim())) {
    return v.trim().toLowerCase() === "true";
  }
  throw invalidValue(`${what} must be true or false.`);
}

/** A string of at most `max` characters, trimmed; null and "" when `nullable` allows. */
export function stringValue(v: unknown, what: string, max: number): string {
  if (typeof v !== "string") throw invalidValue(`${what} must be a string.`);
  const s = v.trim();
  if (s.length > max) throw invalidValue(`${what} is longer than ${max} characters.`);
  if (/\p{Cc}/u.test(s)) throw invalidValue(`${what} contains control characters.`);
  return s;
}

/** A path filter of the form `a eq "x"` (or such filters joined by `or`), as [attr, values]. */
export function equalities(f: Filter): { attr: string; values: unknown[] } | null {
  if (f.op === "eq" && "compValue" in f) {
    return { attr: f.attrPath.toLowerCase(), values: [f.compValue] };
  }
  if (f.op === "or" && "filters" in f) {
    const parts = f.filters.map(equalities);
    if (parts.some((p) => p === null)) return null;
    const attr = parts[0]!.attr;
    if (parts.some((p) => p!.attr !== attr)) return null;
    return { attr, values: parts.flatMap((p) => p!.values) };
  }
  return null;
}

/**
 * Prefixed, time-sortable ids (TypeID: prefix + UUIDv7 in base32), so a stray id in a
 * log names its kind, and ordering by id is ordering by creation (cursor pagination).
 */
import { typeidUnboxed } from "typeid-js";

const ID_PREFIX = {
  account: "acct",
  user: "usr",
  group: "grp",
  grant: "gnt",
  session: "ses",
  refreshToken: "rtk",
  apiToken: "tok",
  scimToken: "scim",
  reseller: "rsl",
  deviceOrganization: "dorg",
  device: "dev",
  invitation: "inv",
  userToken: "utk",
  ssoLoginCode: "ssoc",
  webhook: "whk",
  delivery: "dlv",
  event: "evt",
  request: "req",
} as const;

export type IdKind = keyof typeof ID_PREFIX;

export function newId(kind: IdKind): string {
  return typeidUnboxed(ID_PREFIX[kind]);
}

/** A TypeID suffix is 26 base32 characters, the first one 0-7. */
export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIX[kind]}_[0-7][0-9a-hjkmnp-tv-z]{25}$`);
}

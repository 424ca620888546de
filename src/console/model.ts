/** The API's objects as the console reads them, and lookups several screens share. */
import { get, type Page } from "./api";
import { useLoad } from "./hooks";

export interface User {
  id: string;
  email: string;
  pending_email: string | null;
  first_name: string;
  last_name: string;
  status: "active" | "disabled";
  must_change_password: boolean;
  group_ids: string[];
  created_via: string;
  created_at: string;
  last_login_at: string | null;
  last_login_ip: string | null;
  last_login_method: string | null;
}

export interface Group {
  id: string;
  name: string;
  description: string | null;
  builtin: boolean;
  grants: { permission: string; scope: Record<string, string[]> | null }[];
  member_count: number;
}

export interface Session {
  id: string;
  created_at: string;
  last_used_at: string;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

export interface ActivityEvent {
  id: string;
  type: string;
  occurred_at: string;
  actor: { type: string; id: string | null };
  subject: { type: string; id: string } | null;
  method: string | null;
  ip: string | null;
  metadata: Record<string, unknown> | null;
}

/** Every permission of the catalogue: the service's own list, so the two cannot drift. */
export { PERMISSIONS } from "../authz/catalog";

/** The account's groups (at most a few hundred; the first 100 cover the console's pickers). */
export function useGroups(enabled = true) {
  return useLoad(
    () =>
      enabled
        ? get<Page<Group>>("/v1/groups?limit=100").then((p) => p.data)
        : Promise.resolve([] as Group[]),
    [enabled],
  );
}

export const fullName = (u: { first_name: string; last_name: string }) =>
  `${u.first_name} ${u.last_name}`.trim();

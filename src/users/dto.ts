/** The user as the API shows it. */
import { z } from "@hono/zod-openapi";
import type { UserRow } from "../context";
import { iso } from "../lib/clock";

export const UserSchema = z
  .object({
    id: z.string(),
    account_id: z.string(),
    email: z.string(),
    pending_email: z.string().nullable(),
    first_name: z.string(),
    last_name: z.string(),
    status: z.enum(["active", "disabled"]),
    must_change_password: z.boolean(),
    group_ids: z.array(z.string()),
    created_via: z.string(),
    created_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    last_login_at: z.string().nullable(),
    last_login_ip: z.string().nullable(),
    last_login_method: z.string().nullable(),
  })
  .openapi("User");

export type UserDto = z.infer<typeof UserSchema>;

export function toUserDto(user: UserRow, groupIds: string[]): UserDto {
  return {
    id: user.id,
    account_id: user.accountId,
    email: user.email,
    pending_email: user.pendingEmail,
    first_name: user.firstName,
    last_name: user.lastName,
    status: user.status,
    must_change_password: user.mustChangePassword,
    group_ids: groupIds,
    created_via: user.createdVia,
    created_by: user.createdBy,
    created_at: iso(user.createdAt)!,
    updated_at: iso(user.updatedAt)!,
    last_login_at: iso(user.lastLoginAt),
    last_login_ip: user.lastLoginIp,
    last_login_method: user.lastLoginMethod,
  };
}

/** How mail greets a user: their name, or their email when they have none. */
export const displayName = (u: UserRow) => `${u.firstName} ${u.lastName}`.trim() || u.email;

import { z } from "@hono/zod-openapi";
import { PageQuery } from "../http/openapi";

export const Email = z.email({ error: "Not a valid email address." }).max(254);
export const PersonName = z.string().trim().min(1).max(100);
export const GroupIds = z.array(z.string().min(1).max(64)).min(1).max(50);
/** Length and strength are checked by the password policy, which answers `weak_password`. */
export const Password = z.string().min(1).max(1024);

export const CreateUserBody = z.strictObject({
  email: Email,
  first_name: PersonName,
  last_name: PersonName,
  password: Password,
  group_ids: GroupIds.optional(),
  must_change_password: z.boolean().optional(),
});

export const UpdateUserBody = z.strictObject({
  /** Stored as pending until the link mailed to it is confirmed. */
  email: Email.optional(),
  first_name: PersonName.optional(),
  last_name: PersonName.optional(),
  status: z.enum(["active", "disabled"]).optional(),
});

export const ReplaceGroupsBody = z.strictObject({ group_ids: GroupIds });

export const ListUsersQuery = PageQuery.extend({
  q: z.string().trim().min(1).max(200).optional(),
  group_id: z.string().min(1).max(64).optional(),
  status: z.enum(["active", "disabled"]).optional(),
});

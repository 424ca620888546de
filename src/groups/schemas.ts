import { z } from "@hono/zod-openapi";
import { PERMISSIONS, scopeKeyFor } from "../authz/catalog";

const ScopeSchema = z
  .strictObject({
    device_organization_ids: z.array(z.string().min(1).max(64)).min(1).max(500).optional(),
    content_types: z.array(z.string().min(1).max(100)).min(1).max(500).optional(),
  })
  .openapi("GrantScope");

const GrantSchema = z
  .strictObject({ permission: z.enum(PERMISSIONS), scope: ScopeSchema.nullable().optional() })
  .superRefine((grant, ctx) => {
    if (!grant.scope) return;
    const allowed = scopeKeyFor(grant.permission);
    const keys = Object.keys(grant.scope);
    if (keys.length !== 1 || keys[0] !== allowed) {
      ctx.addIssue({
        code: "custom",
        path: ["scope"],
        message: allowed
          ? `${grant.permission} accepts only the scope {"${allowed}": [...]}.`
          : `${grant.permission} does not accept a scope.`,
      });
    }
  })
  .openapi("Grant");

export type GrantInput = z.infer<typeof GrantSchema>;

const Name = z.string().trim().min(1).max(100);
const Description = z.string().max(500).nullable();
const Grants = z.array(GrantSchema).max(100);

export const CreateGroupBody = z.strictObject({
  name: Name,
  description: Description.optional(),
  grants: Grants,
});
export const UpdateGroupBody = z.strictObject({
  name: Name.optional(),
  description: Description.optional(),
  grants: Grants.optional(),
});

export const GroupSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    builtin: z.boolean(),
    grants: z.array(z.object({ permission: z.string(), scope: ScopeSchema.nullable() })),
    member_count: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Group");

export type GroupDto = z.infer<typeof GroupSchema>;

import { describe, expect, it } from "vitest";
import {
  authorize,
  type EffectiveGrant,
  effectivePermissions,
  scopeOf,
} from "../../src/authz/authorize";

const grant = (
  groupId: string,
  permission: string,
  scope: EffectiveGrant["scope"] = null,
): EffectiveGrant => ({ groupId, permission, scope });

describe("authorize", () => {
  it("allows a permission held by any group and names every group that grants it", () => {
    const grants = [
      grant("g1", "users:read"),
      grant("g2", "users:read"),
      grant("g3", "groups:read"),
    ];
    expect(authorize(grants, "users:read")).toEqual({ allowed: true, grantedBy: ["g1", "g2"] });
    expect(authorize(grants, "users:write")).toEqual({ allowed: false, grantedBy: [] });
  });

  it("limits scoped grants to the listed resources", () => {
    const grants = [grant("g1", "devices:write", { device_organization_ids: ["orgA"] })];
    expect(authorize(grants, "devices:write", { device_organization_id: "orgA" }).allowed).toBe(
      true,
    );
    expect(authorize(grants, "devices:write", { device_organization_id: "orgB" }).allowed).toBe(
      false,
    );
    expect(authorize(grants, "devices:write", { content_type: "video" }).allowed).toBe(false);
  });

  it("lets an unscoped grant cover every resource, alongside a scoped one", () => {
    const grants = [
      grant("g1", "content:read", { content_types: ["video"] }),
      grant("g2", "content:read"),
    ];
    expect(authorize(grants, "content:read", { content_type: "image" })).toEqual({
      allowed: true,
      grantedBy: ["g2"],
    });
    expect(authorize(grants, "content:read", { content_type: "video" })).toEqual({
      allowed: true,
      grantedBy: ["g1", "g2"],
    });
  });
});

describe("scopeOf and effectivePermissions", () => {
  it("unions scopes, and an unscoped grant means everything", () => {
    const scoped = [
      grant("g1", "devices:read", { device_organization_ids: ["a"] }),
      grant("g2", "devices:read", { device_organization_ids: ["b", "a"] }),
    ];
    expect(scopeOf(scoped, "devices:read", "device_organization_ids")?.sort()).toEqual(["a", "b"]);
    expect(
      scopeOf([...scoped, grant("g3", "devices:read")], "devices:read", "device_organization_ids"),
    ).toBeNull();
    expect(scopeOf([], "devices:read", "device_organization_ids")).toEqual([]);
    expect(effectivePermissions(scoped)).toEqual([
      { permission: "devices:read", scope: { device_organization_ids: ["a", "b"] } },
    ]);
    expect(effectivePermissions([...scoped, grant("g3", "devices:read")])).toEqual([
      { permission: "devices:read", scope: null },
    ]);
  });
});

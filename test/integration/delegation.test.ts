/** No one hands out more than they hold: grants, group memberships and acting on users above you. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, count, createAccount, createGroup, createUser, type TestAccount } from "../helpers";

async function withPermissions(
  acct: TestAccount,
  grants: { permission: string; scope?: unknown }[],
) {
  const groupId = await createGroup(acct, grants);
  return { groupId, ...(await createUser(acct, { groupIds: [groupId] })) };
}

describe("delegation", () => {
  it("refuses creating or widening a group beyond the caller's own grants", async () => {
    const acct = await createAccount();
    const manager = await withPermissions(acct, [
      { permission: "groups:write" },
      { permission: "users:read" },
    ]);
    const wider = await call("POST", "/v1/groups", {
      token: manager.token,
      body: { name: "Escalate", grants: [{ permission: "users:write" }] },
    });
    expect(wider.status).toBe(403);
    expect(wider.body.code).toBe("permission_not_held");
    expect(
      await count(
        "SELECT count(*) AS n FROM groups WHERE account_id = ? AND name = 'Escalate'",
        acct.accountId,
      ),
    ).toBe(0);

    const ok = await call("POST", "/v1/groups", {
      token: manager.token,
      body: { name: "Readers", grants: [{ permission: "users:read" }] },
    });
    expect(ok.status).toBe(201);
    const widen = await call("PATCH", `/v1/groups/${ok.body.id}`, {
      token: manager.token,
      body: { grants: [{ permission: "billing:write" }] },
    });
    expect(widen.status).toBe(403);
    expect(
      (await call("GET", `/v1/groups/${ok.body.id}`, { token: acct.token })).body.grants,
    ).toEqual([{ permission: "users:read", scope: null }]);
  });

  it("keeps scoped authority scoped", async () => {
    const acct = await createAccount();
    const orgA = (
      await call("POST", "/v1/device-organizations", { token: acct.token, body: { name: "A" } })
    ).body.id;
    const orgB = (
      await call("POST", "/v1/device-organizations", { token: acct.token, body: { name: "B" } })
    ).body.id;
    const lead = await withPermissions(acct, [
      { permission: "groups:write" },
      { permission: "devices:write", scope: { device_organization_ids: [orgA] } },
    ]);
    const inside = await call("POST", "/v1/groups", {
      token: lead.token,
      body: {
        name: "A crew",
        grants: [{ permission: "devices:write", scope: { device_organization_ids: [orgA] } }],
      },
    });
    expect(inside.status).toBe(201);
    for (const scope of [
      { device_organization_ids: [orgB] },
      { device_organization_ids: [orgA, orgB] },
      null,
    ]) {
      const res = await call("POST", "/v1/groups", {
        token: lead.token,
        body: {
          name: `x-${JSON.stringify(scope)}`,
          grants: [{ permission: "devices:write", scope }],
        },
      });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("permission_not_held");
    }
  });

  it("refuses putting anyone, oneself included, into a group with more rights than the caller", async () => {
    const acct = await createAccount();
    const helpdesk = await withPermissions(acct, [
      { permission: "users:write" },
      { permission: "groups:read" },
    ]);
    const self = await call("PUT", `/v1/users/${helpdesk.id}/groups`, {
      token: helpdesk.token,
      body: { group_ids: [acct.administratorsId] },
    });
    expect(self.status).toBe(403);
    expect(self.body.code).toBe("permission_not_held");
    expect(
      await count(
        "SELECT count(*) AS n FROM group_memberships WHERE user_id = ? AND group_id = ?",
        helpdesk.id,
        acct.administratorsId,
      ),
    ).toBe(0);

    const created = await call("POST", "/v1/users", {
      token: helpdesk.token,
      body: {
        email: "new-admin@example.com",
        first_name: "N",
        last_name: "A",
        password: "correct horse battery staple 42",
        group_ids: [acct.administratorsId],
      },
    });
    expect(created.status).toBe(403);
    expect(
      await count("SELECT count(*) AS n FROM users WHERE email = 'new-admin@example.com'"),
    ).toBe(0);

    // Members is everyone's baseline: the helpdesk can create plain members.
    const member = await call("POST", "/v1/users", {
      token: helpdesk.token,
      body: {
        email: "plain@example.com",
        first_name: "P",
        last_name: "M",
        password: "correct horse battery staple 42",
      },
    });
    expect(member.status).toBe(201);
    expect(member.body.group_ids).toEqual([acct.membersId]);
  });

  it("refuses disabling, deleting or regrouping a user who holds more than the caller", async () => {
    const acct = await createAccount();
    const helpdesk = await withPermissions(acct, [
      { permission: "users:write" },
      { permission: "groups:read" },
    ]);
    for (const [method, path, body] of [
      ["PATCH", `/v1/users/${acct.adminId}`, { status: "disabled" }],
      ["DELETE", `/v1/users/${acct.adminId}`, undefined],
      ["PUT", `/v1/users/${acct.adminId}/groups`, { group_ids: [acct.membersId] }],
    ] as const) {
      const res = await call(method, path, { token: helpdesk.token, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.code).toBe("permission_not_held");
    }
    const admin = await env.DB.prepare("SELECT status FROM users WHERE id = ?")
      .bind(acct.adminId)
      .first<{ status: string }>();
    expect(admin?.status).toBe("active");
    expect((await call("GET", "/v1/me", { token: acct.token })).status).toBe(200);

    const member = await createUser(acct);
    const disabled = await call("PATCH", `/v1/users/${member.id}`, {
      token: helpdesk.token,
      body: { status: "disabled" },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe("disabled");
  });
});

describe("delegation and Members", () => {
  it("ignores Members' grants, which everyone holds: a narrow API token can regroup a member", async () => {
    const acct = await createAccount();
    const readers = await createGroup(acct, [{ permission: "users:read" }]);
    // Members holds more than the token (devices:read, content:read, groups:read...).
    const created = await call("POST", "/v1/api-tokens", {
      token: acct.token,
      body: { name: "regroup", permissions: ["users:read", "users:write", "groups:read"] },
    });
    expect(created.status).toBe(201);
    const member = await createUser(acct);
    const res = await call("PUT", `/v1/users/${member.id}/groups`, {
      token: created.body.token,
      body: { group_ids: [readers] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.group_ids).toEqual([readers, acct.membersId].sort());
  });
});

describe("groups and users above the caller", () => {
  it("PATCH or DELETE of a group holding grants the caller lacks is 403 permission_not_held; nothing changes", async () => {
    const acct = await createAccount();
    const manager = await withPermissions(acct, [{ permission: "groups:write" }]);
    const billing = await createGroup(acct, [{ permission: "billing:write" }], "Billing");
    const before = await env.DB.prepare(
      "SELECT name, description, (SELECT json_group_array(permission) FROM grants WHERE group_id = groups.id) AS grants FROM groups WHERE id = ?",
    )
      .bind(billing)
      .first();
    for (const [method, path, body] of [
      ["PATCH", `/v1/groups/${billing}`, { grants: [] }],
      ["PATCH", `/v1/groups/${billing}`, { name: "Nothing here", description: "x" }],
      ["DELETE", `/v1/groups/${billing}`, undefined],
      ["PATCH", `/v1/groups/${acct.administratorsId}`, { description: "Hijacked" }],
    ] as const) {
      const res = await call(method, path, { token: manager.token, body });
      expect(res.status, `${method} ${path} ${JSON.stringify(res.body)}`).toBe(403);
      expect(res.body.code).toBe("permission_not_held");
    }
    expect(
      await env.DB.prepare(
        "SELECT name, description, (SELECT json_group_array(permission) FROM grants WHERE group_id = groups.id) AS grants FROM groups WHERE id = ?",
      )
        .bind(billing)
        .first(),
    ).toEqual(before);
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type IN ('group.updated', 'group.deleted') AND subject_id IN (?, ?)",
        billing,
        acct.administratorsId,
      ),
    ).toBe(0);

    // A group within the caller's authority can still be changed and deleted.
    const mine = await createGroup(acct, [{ permission: "groups:write" }], "Mine");
    const renamed = await call("PATCH", `/v1/groups/${mine}`, {
      token: manager.token,
      body: { name: "Renamed", grants: [] },
    });
    expect(renamed.status).toBe(200);
    expect((await call("DELETE", `/v1/groups/${mine}`, { token: manager.token })).status).toBe(204);
  });

  it("renaming an administrator without holding their rights is 403 permission_not_held", async () => {
    const acct = await createAccount();
    const helpdesk = await withPermissions(acct, [
      { permission: "users:write" },
      { permission: "groups:read" },
    ]);
    const res = await call("PATCH", `/v1/users/${acct.adminId}`, {
      token: helpdesk.token,
      body: { first_name: "Mallory", last_name: "Owned" },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("permission_not_held");
    const admin = await env.DB.prepare("SELECT first_name, last_name FROM users WHERE id = ?")
      .bind(acct.adminId)
      .first();
    expect(admin).toEqual({ first_name: "Account", last_name: "Administrator" });
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'user.updated' AND subject_id = ?",
        acct.adminId,
      ),
    ).toBe(0);

    const member = await createUser(acct);
    const renamed = await call("PATCH", `/v1/users/${member.id}`, {
      token: helpdesk.token,
      body: { first_name: "Renamed" },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.first_name).toBe("Renamed");
  });
});

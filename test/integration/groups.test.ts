import { describe, expect, it } from "vitest";
import {
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  login,
  PASSWORD,
  PLATFORM_TOKEN,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

const IP = "192.0.2.44";
const UA = "groups-test/1.0";
const as = (acct: { token: string }) => ({
  token: acct.token,
  ip: IP,
  headers: { "user-agent": UA },
});

const memberships = async (userId: string) =>
  (
    await rows<{ group_id: string }>(
      "SELECT group_id FROM group_memberships WHERE user_id = ? ORDER BY group_id",
      userId,
    )
  ).map((r) => r.group_id);
const storedGrants = async (groupId: string) =>
  (
    await rows<{ permission: string; scope: string | null }>(
      "SELECT permission, scope FROM grants WHERE group_id = ? ORDER BY permission",
      groupId,
    )
  ).map((g) => ({
    permission: g.permission,
    scope: g.scope === null ? null : JSON.parse(g.scope),
  }));
const byPermission = (grants: { permission: string }[]) =>
  [...grants].sort((a, b) => a.permission.localeCompare(b.permission));
const groupEvents = (groupId: string) =>
  rows("SELECT * FROM activity_events WHERE subject_id = ? ORDER BY rowid", groupId);
/** Rows a refused request must not have touched. */
const snapshot = async () => ({
  accounts: await count("SELECT count(*) AS n FROM accounts"),
  users: await count("SELECT count(*) AS n FROM users"),
  groups: await rows("SELECT * FROM groups ORDER BY id"),
  grants: await count("SELECT count(*) AS n FROM grants"),
  memberships: await count("SELECT count(*) AS n FROM group_memberships"),
  events: await count("SELECT count(*) AS n FROM activity_events"),
});

async function newOrg(acct: TestAccount) {
  const res = await call("POST", "/v1/device-organizations", {
    ...as(acct),
    body: { name: "Lobby screens" },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

describe("groups", () => {
  it("creates a group with grants, echoing them, and records group.created", async () => {
    const acct = await createAccount();
    const org = await newOrg(acct);
    const grants = [
      { permission: "content:write", scope: { content_types: ["video", "image"] } },
      { permission: "devices:read", scope: { device_organization_ids: [org] } },
      { permission: "users:read" },
    ];
    const res = await call("POST", "/v1/groups", {
      ...as(acct),
      body: { name: "  Content Team ", description: "Edits playlists", grants },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "Content Team",
      description: "Edits playlists",
      builtin: false,
      member_count: 0,
    });
    const expected = byPermission(
      grants.map((g) => ({ permission: g.permission, scope: g.scope ?? null })),
    );
    expect(byPermission(res.body.grants)).toEqual(expected);
    expect(await storedGrants(res.body.id)).toEqual(expected);
    expect(
      await rows("SELECT account_id, name, builtin FROM groups WHERE id = ?", res.body.id),
    ).toEqual([{ account_id: acct.accountId, name: "Content Team", builtin: null }]);
    expect((await call("GET", `/v1/groups/${res.body.id}`, as(acct))).body).toEqual(res.body);

    const events = await groupEvents(res.body.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "group.created",
      account_id: acct.accountId,
      actor_type: "user",
      actor_id: acct.adminId,
      subject_type: "group",
      ip: IP,
      user_agent: UA,
    });
  });

  it("refuses unknown permissions, misfit scopes and other accounts' device organizations with 422", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const foreignOrg = await newOrg(other);
    const before = await snapshot();
    const bad = [
      { permission: "users:fly" },
      { permission: "users:read", scope: { content_types: ["video"] } },
      { permission: "devices:read", scope: { content_types: ["video"] } },
      { permission: "content:read", scope: { device_organization_ids: ["dorg_x"] } },
      { permission: "devices:write", scope: { device_organization_ids: [foreignOrg] } },
    ];
    for (const grant of bad) {
      const res = await call("POST", "/v1/groups", {
        ...as(acct),
        body: { name: "Bad", grants: [grant] },
      });
      expectProblem(res, 422, "validation_failed");
      expect(res.body.errors[0].path).toMatch(/^grants/);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("lists groups with member counts", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:write" }], "Ops");
    await createUser(acct, { groupIds: [ops] });
    await createUser(acct, { groupIds: [ops, acct.membersId] });
    await createUser(acct);
    const res = await call("GET", "/v1/groups", as(acct));
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    const counts = Object.fromEntries(res.body.data.map((g: any) => [g.name, g.member_count]));
    // Everyone is in Members, the administrator included.
    expect(counts).toEqual({ Administrators: 1, Members: 4, Ops: 2 });
    for (const g of res.body.data)
      expect(g.member_count).toBe(
        await count("SELECT count(*) AS n FROM group_memberships WHERE group_id = ?", g.id),
      );
    const builtins = res.body.data
      .filter((g: any) => g.builtin)
      .map((g: any) => g.name)
      .sort();
    expect(builtins).toEqual(["Administrators", "Members"]);

    const first = await call("GET", "/v1/groups?limit=2", as(acct));
    const rest = await call("GET", `/v1/groups?limit=2&cursor=${first.body.next_cursor}`, as(acct));
    expect([...first.body.data, ...rest.body.data].map((g: any) => g.id)).toEqual(
      res.body.data.map((g: any) => g.id),
    );
    expect(rest.body.next_cursor).toBeNull();
  });

  it("gets one group; another account's group is not found", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const res = await call("GET", `/v1/groups/${acct.administratorsId}`, as(acct));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: acct.administratorsId,
      name: "Administrators",
      builtin: true,
      member_count: 1,
    });
    const catalog = (await call("GET", "/v1/me", as(acct))).body.permissions
      .map((p: any) => p.permission)
      .sort();
    expect(res.body.grants.map((g: any) => g.permission).sort()).toEqual(catalog);
    for (const method of ["GET", "PATCH", "DELETE"]) {
      expectProblem(
        await call(method, `/v1/groups/${other.membersId}`, {
          ...as(acct),
          body: method === "PATCH" ? { description: "x" } : undefined,
        }),
        404,
        "not_found",
      );
    }
    expect(await rows("SELECT description FROM groups WHERE id = ?", other.membersId)).not.toEqual([
      { description: "x" },
    ]);
  });

  it("renames, describes and replaces grants, recording group.updated", async () => {
    const acct = await createAccount();
    const id = await createGroup(
      acct,
      [{ permission: "devices:read" }, { permission: "users:read" }],
      "Support",
    );
    const renamed = await call("PATCH", `/v1/groups/${id}`, {
      ...as(acct),
      body: { name: "Helpdesk", description: "First line" },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, name: "Helpdesk", description: "First line" });
    expect(await storedGrants(id)).toHaveLength(2);

    const regranted = await call("PATCH", `/v1/groups/${id}`, {
      ...as(acct),
      body: { grants: [{ permission: "content:read", scope: { content_types: ["menu"] } }] },
    });
    expect(regranted.status).toBe(200);
    expect(regranted.body).toMatchObject({
      name: "Helpdesk",
      description: "First line",
      grants: [{ permission: "content:read", scope: { content_types: ["menu"] } }],
    });
    expect(await storedGrants(id)).toEqual([
      { permission: "content:read", scope: { content_types: ["menu"] } },
    ]);

    const cleared = await call("PATCH", `/v1/groups/${id}`, {
      ...as(acct),
      body: { description: null, grants: [] },
    });
    expect(cleared.body).toMatchObject({ description: null, grants: [] });
    expect(await storedGrants(id)).toEqual([]);
    expect(await rows("SELECT name, description FROM groups WHERE id = ?", id)).toEqual([
      { name: "Helpdesk", description: null },
    ]);
    const types = (await groupEvents(id)).map((e) => e.type);
    expect(types).toEqual(["group.created", "group.updated", "group.updated", "group.updated"]);
  });

  it("a grant change takes effect on the member's next request", async () => {
    const acct = await createAccount();
    // Members' grants are everyone's; emptied so the group's own grants are all the user holds.
    await call("PATCH", `/v1/groups/${acct.membersId}`, { ...as(acct), body: { grants: [] } });
    const id = await createGroup(acct, [{ permission: "users:read" }]);
    const u = await createUser(acct, { groupIds: [id] });
    expectProblem(
      await call("POST", "/v1/groups", { token: u.token, body: { name: "Mine", grants: [] } }),
      403,
      "forbidden",
    );
    expect(
      (
        await call("PATCH", `/v1/groups/${id}`, {
          ...as(acct),
          body: { grants: [{ permission: "groups:write" }] },
        })
      ).status,
    ).toBe(200);
    expect(
      (await call("POST", "/v1/groups", { token: u.token, body: { name: "Mine", grants: [] } }))
        .status,
    ).toBe(201);
    expectProblem(await call("GET", "/v1/users", { token: u.token }), 403, "forbidden");
  });

  it("group names are unique per account, case-insensitively: 409 group_name_taken", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const ops = await createGroup(acct, [], "Ops");
    const spare = await createGroup(acct, [], "Spare");
    const before = await snapshot();
    for (const name of ["ops", " OPS ", "administrators", "MEMBERS"]) {
      expectProblem(
        await call("POST", "/v1/groups", { ...as(acct), body: { name, grants: [] } }),
        409,
        "group_name_taken",
      );
    }
    expectProblem(
      await call("PATCH", `/v1/groups/${spare}`, { ...as(acct), body: { name: "oPs" } }),
      409,
      "group_name_taken",
    );
    expect(await snapshot()).toEqual(before);
    expect(
      (await call("PATCH", `/v1/groups/${ops}`, { ...as(acct), body: { name: "OPS" } })).status,
    ).toBe(200);
    expect(
      (await call("POST", "/v1/groups", { ...as(other), body: { name: "Ops", grants: [] } }))
        .status,
    ).toBe(201);
  });

  it("built-in groups cannot be deleted or renamed, nor Administrators' grants changed", async () => {
    const acct = await createAccount();
    const before = await snapshot();
    const refused: [string, string, unknown][] = [
      ["DELETE", acct.administratorsId, undefined],
      ["DELETE", acct.membersId, undefined],
      ["PATCH", acct.administratorsId, { name: "Admins" }],
      ["PATCH", acct.membersId, { name: "Everyone" }],
      ["PATCH", acct.administratorsId, { grants: [{ permission: "users:read" }] }],
      ["PATCH", acct.administratorsId, { description: "x", grants: [] }],
    ];
    for (const [method, id, body] of refused)
      expectProblem(
        await call(method, `/v1/groups/${id}`, { ...as(acct), body }),
        409,
        "group_builtin",
      );
    expect(await snapshot()).toEqual(before);

    const described = await call("PATCH", `/v1/groups/${acct.administratorsId}`, {
      ...as(acct),
      body: { name: "Administrators", description: "The owners" },
    });
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({
      name: "Administrators",
      description: "The owners",
      builtin: true,
    });
    const members = await call("PATCH", `/v1/groups/${acct.membersId}`, {
      ...as(acct),
      body: { grants: [{ permission: "users:read" }] },
    });
    expect(members.status).toBe(200);
    expect(await storedGrants(acct.membersId)).toEqual([{ permission: "users:read", scope: null }]);
  });

  it("deleting a group moves members left in no group into Members", async () => {
    const acct = await createAccount();
    const doomed = await createGroup(acct, [{ permission: "devices:read" }], "Doomed");
    const kept = await createGroup(acct, [], "Kept");
    const only = await createUser(acct, { groupIds: [doomed] });
    const both = await createUser(acct, { groupIds: [doomed, kept] });
    const withMembers = await createUser(acct, { groupIds: [doomed, acct.membersId] });

    const res = await call("DELETE", `/v1/groups/${doomed}`, as(acct));
    expect(res.status).toBe(204);
    expect(await memberships(only.id)).toEqual([acct.membersId]);
    expect(await memberships(both.id)).toEqual([kept, acct.membersId].sort());
    expect(await memberships(withMembers.id)).toEqual([acct.membersId]);
    expect(await count("SELECT count(*) AS n FROM groups WHERE id = ?", doomed)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM grants WHERE group_id = ?", doomed)).toBe(0);
    expect(
      await count("SELECT count(*) AS n FROM group_memberships WHERE group_id = ?", doomed),
    ).toBe(0);
    // Everyone was in Members already (the administrator too).
    expect((await call("GET", `/v1/groups/${acct.membersId}`, as(acct))).body.member_count).toBe(4);
    expect((await call("GET", `/v1/users/${only.id}`, as(acct))).body.group_ids).toEqual([
      acct.membersId,
    ]);
    expectProblem(await call("DELETE", `/v1/groups/${doomed}`, as(acct)), 404, "not_found");

    const events = await groupEvents(doomed);
    expect(events.map((e) => e.type)).toEqual(["group.created", "group.deleted"]);
    expect(events[1]).toMatchObject({
      actor_type: "user",
      actor_id: acct.adminId,
      subject_type: "group",
      ip: IP,
      user_agent: UA,
    });
  });
});

describe("GET/PATCH /v1/account", () => {
  it("shows name, plan, features and managed_by to any member", async () => {
    const acct = await createAccount("business", "Northwind Displays");
    const member = await createUser(acct);
    const [plan] = await rows<{ features: string }>(
      "SELECT features FROM plans WHERE id = 'business'",
    );
    for (const token of [acct.token, member.token]) {
      const res = await call("GET", "/v1/account", { token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: acct.accountId,
        name: "Northwind Displays",
        plan: "business",
        managed_by: { type: "direct" },
      });
      expect(res.body.features).toEqual(JSON.parse(plan!.features));
      expect(res.body.settings.invitation_ttl_hours).toBe(168);
    }
    expectProblem(await call("GET", "/v1/account"), 401, "unauthorized");
  });

  it("renames the account and changes settings; out-of-range values are 422", async () => {
    const acct = await createAccount();
    const res = await call("PATCH", "/v1/account", {
      ...as(acct),
      body: { name: " Globex ", settings: { invitation_ttl_hours: 48 } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: "Globex",
      settings: { invitation_ttl_hours: 48 },
      managed_by: { type: "direct" },
    });
    const stored = async () =>
      (await rows("SELECT name, settings FROM accounts WHERE id = ?", acct.accountId)).map((r) => ({
        ...r,
        settings: JSON.parse(r.settings),
      }));
    expect(await stored()).toEqual([{ name: "Globex", settings: { invitation_ttl_hours: 48 } }]);
    expect((await call("GET", "/v1/account", as(acct))).body).toMatchObject({
      name: "Globex",
      settings: { invitation_ttl_hours: 48 },
    });
    expect(
      (
        await call("PATCH", "/v1/account", {
          ...as(acct),
          body: { settings: { invitation_ttl_hours: 720 } },
        })
      ).body.name,
    ).toBe("Globex");

    const events = await count(
      "SELECT count(*) AS n FROM activity_events WHERE account_id = ?",
      acct.accountId,
    );
    for (const settings of [
      { invitation_ttl_hours: 0 },
      { invitation_ttl_hours: 721 },
      { invitation_ttl_hours: 1.5 },
      { invitation_ttl_hours: "24" },
      {},
    ]) {
      const bad = await call("PATCH", "/v1/account", {
        ...as(acct),
        body: { name: "Nope", settings },
      });
      expectProblem(bad, 422, "validation_failed");
      expect(bad.body.errors[0].path).toMatch(/^settings/);
    }
    expectProblem(
      await call("PATCH", "/v1/account", { ...as(acct), body: { name: "  " } }),
      422,
      "validation_failed",
    );
    expect(await stored()).toEqual([{ name: "Globex", settings: { invitation_ttl_hours: 720 } }]);
    expect(
      await count("SELECT count(*) AS n FROM activity_events WHERE account_id = ?", acct.accountId),
    ).toBe(events);

    const member = await createUser(acct);
    expectProblem(
      await call("PATCH", "/v1/account", { token: member.token, body: { name: "Mine" } }),
      403,
      "forbidden",
    );
  });
});

describe("POST /v1/platform/accounts", () => {
  const create = (body: Record<string, unknown>, token: string | null = PLATFORM_TOKEN) =>
    call("POST", "/v1/platform/accounts", {
      token: token ?? undefined,
      body: {
        name: "Initech",
        plan: "team",
        admin_email: uniqueEmail("boss"),
        admin_password: PASSWORD,
        ...body,
      },
    });

  it("creates the account, both built-in groups and its administrator", async () => {
    const email = uniqueEmail("founder");
    const res = await create({ admin_email: email.toUpperCase() });
    expect(res.status).toBe(201);
    const { account, admin } = res.body;
    expect(account).toMatchObject({
      name: "Initech",
      plan: "team",
      managed_by: { type: "direct" },
    });
    expect(admin).toMatchObject({
      email,
      status: "active",
      created_via: "bootstrap",
      account_id: account.id,
    });

    const groups = await rows(
      "SELECT id, name, builtin FROM groups WHERE account_id = ? ORDER BY builtin",
      account.id,
    );
    expect(groups.map((g) => [g.name, g.builtin])).toEqual([
      ["Administrators", "administrators"],
      ["Members", "members"],
    ]);
    const adminsGroup = groups[0]!.id as string;
    // Members is everyone's group, the first administrator's too.
    const adminGroups = [adminsGroup, groups[1]!.id as string].sort();
    expect(await memberships(admin.id)).toEqual(adminGroups);
    expect(admin.group_ids).toEqual(adminGroups);
    expect(await count("SELECT count(*) AS n FROM grants WHERE group_id = ?", adminsGroup)).toBe(
      (await storedGrants(adminsGroup)).length,
    );
    const types = await rows(
      "SELECT type, actor_type FROM activity_events WHERE account_id = ? ORDER BY rowid",
      account.id,
    );
    expect(types).toEqual([
      { type: "account.created", actor_type: "platform" },
      { type: "user.created", actor_type: "platform" },
    ]);

    const session = await login(email);
    const me = await call("GET", "/v1/me", { token: session.access_token });
    expect(me.body.groups.map((g: any) => g.id).sort()).toEqual(adminGroups);
    expect(me.body.permissions.length).toBe((await storedGrants(adminsGroup)).length);
  });

  it("needs the platform token, which works nowhere else", async () => {
    const acct = await createAccount();
    const before = await snapshot();
    expectProblem(await create({}, null), 401, "unauthorized");
    expectProblem(await create({}, "not-the-platform-token"), 401, "unauthorized");
    expectProblem(await create({}, acct.token), 401, "unauthorized");
    expectProblem(
      await call("POST", "/v1/platform/accounts", {
        headers: { authorization: PLATFORM_TOKEN },
        body: {},
      }),
      401,
      "unauthorized",
    );
    expect(await snapshot()).toEqual(before);
    expectProblem(await call("GET", "/v1/users", { token: PLATFORM_TOKEN }), 401, "unauthorized");
  });

  it("refuses a bad plan, a weak password, an unknown reseller and a taken email, writing nothing", async () => {
    const existing = await createAccount();
    const before = await snapshot();
    const planRes = await create({ plan: "platinum" });
    expectProblem(planRes, 422, "validation_failed");
    expect(planRes.body.errors[0].path).toBe("plan");
    expectProblem(await create({ admin_password: "too short" }), 422, "weak_password");
    const reseller = await create({ reseller_id: "rsl_nosuchreseller" });
    expectProblem(reseller, 422, "validation_failed");
    expect(reseller.body.errors[0].path).toBe("reseller_id");
    expectProblem(
      await create({ admin_email: existing.adminEmail.toUpperCase() }),
      409,
      "email_taken",
    );
    expect(await snapshot()).toEqual(before);
  });
});

/**
 * Permissions end to end: every guarded route refuses a user without its permission and
 * serves one holding exactly it; membership and grant changes apply on the next request;
 * scoped device and content grants; grant validation; API tokens.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { PERMISSIONS, type Permission } from "../../src/authz/catalog";
import worker from "../../src/index";
import { clock } from "../../src/lib/clock";
import {
  call,
  createAccount as createBaseAccount,
  createGroup,
  createUser,
  expectProblem,
  PASSWORD,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

afterEach(() => {
  clock.offsetMs = 0;
});

async function setGrants(
  admin: TestAccount,
  groupId: string,
  grants: { permission: string; scope?: unknown }[],
) {
  const res = await call("PATCH", `/v1/groups/${groupId}`, {
    token: admin.token,
    body: { grants },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/**
 * Every user is in Members, whose grants everyone holds; they are emptied so that a user
 * holds exactly the grants a test gives it.
 */
async function createAccount() {
  const acct = await createBaseAccount();
  await setGrants(acct, acct.membersId, []);
  return acct;
}

async function createOrg(admin: TestAccount, name = "Org") {
  const res = await call("POST", "/v1/device-organizations", {
    token: admin.token,
    body: { name },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function provision(token: string, orgId: string, name = "Screen") {
  return call("POST", "/v1/devices", { token, body: { name, device_organization_id: orgId } });
}

async function createToken(
  token: string,
  permissions: string[],
  extra: Record<string, unknown> = {},
) {
  return call("POST", "/v1/api-tokens", {
    token,
    body: { name: `tok-${uniqueEmail("t")}`, permissions, ...extra },
  });
}

/** A user whose only group is a fresh one with the given grants. */
async function userWithGrants(
  admin: TestAccount,
  grants: { permission: string; scope?: unknown }[],
) {
  const groupId = await createGroup(admin, grants);
  const user = await createUser(admin, { groupIds: [groupId] });
  return { ...user, groupId };
}

const eventCount = async (accountId: string) =>
  (
    await rows<{ n: number }>(
      "SELECT count(*) AS n FROM activity_events WHERE account_id = ?",
      accountId,
    )
  )[0]!.n;

// ---------------------------------------------------------------------------------------
// The matrix. Placeholders (":user", ":group", ":org", ":device", ":token", ":email") in
// paths and bodies are replaced by fixtures the admin creates on demand.

interface Row {
  method: string;
  path: string;
  permissions: Permission[];
  body?: unknown;
  ok: number;
}

const MATRIX: Row[] = [
  { method: "GET", path: "/v1/users", permissions: ["users:read"], ok: 200 },
  { method: "GET", path: "/v1/users/:user", permissions: ["users:read"], ok: 200 },
  {
    method: "POST",
    path: "/v1/users",
    permissions: ["users:write"],
    body: { email: ":email", first_name: "New", last_name: "Person", password: PASSWORD },
    ok: 201,
  },
  {
    method: "PATCH",
    path: "/v1/users/:user",
    permissions: ["users:write"],
    body: { first_name: "Renamed" },
    ok: 200,
  },
  {
    method: "PUT",
    path: "/v1/users/:user/groups",
    permissions: ["users:write", "groups:read"],
    body: { group_ids: [":group"] },
    ok: 200,
  },
  { method: "DELETE", path: "/v1/users/:user", permissions: ["users:write"], ok: 204 },
  { method: "GET", path: "/v1/users/:user/sessions", permissions: ["users:write"], ok: 200 },
  { method: "DELETE", path: "/v1/users/:user/sessions", permissions: ["users:write"], ok: 204 },
  { method: "GET", path: "/v1/groups", permissions: ["groups:read"], ok: 200 },
  { method: "GET", path: "/v1/groups/:group", permissions: ["groups:read"], ok: 200 },
  {
    method: "POST",
    path: "/v1/groups",
    permissions: ["groups:write"],
    body: { name: "Matrix group", grants: [] },
    ok: 201,
  },
  {
    method: "PATCH",
    path: "/v1/groups/:group",
    permissions: ["groups:write"],
    body: { description: "changed" },
    ok: 200,
  },
  { method: "DELETE", path: "/v1/groups/:group", permissions: ["groups:write"], ok: 204 },
  {
    method: "POST",
    path: "/v1/authz/check",
    permissions: ["users:read"],
    body: { user_id: ":user", permission: "users:read" },
    ok: 200,
  },
  {
    method: "PATCH",
    path: "/v1/account",
    permissions: ["account:manage"],
    body: { name: "Renamed Signage" },
    ok: 200,
  },
  { method: "GET", path: "/v1/api-tokens", permissions: ["api_tokens:manage"], ok: 200 },
  {
    method: "POST",
    path: "/v1/api-tokens",
    permissions: ["api_tokens:manage"],
    body: { name: "ci", permissions: ["api_tokens:manage"] },
    ok: 201,
  },
  { method: "DELETE", path: "/v1/api-tokens/:token", permissions: ["api_tokens:manage"], ok: 204 },
  { method: "GET", path: "/v1/device-organizations", permissions: ["devices:read"], ok: 200 },
  {
    method: "POST",
    path: "/v1/device-organizations",
    permissions: ["devices:write"],
    body: { name: "Lobby" },
    ok: 201,
  },
  { method: "GET", path: "/v1/devices", permissions: ["devices:read"], ok: 200 },
  {
    method: "POST",
    path: "/v1/devices",
    permissions: ["devices:write"],
    body: { name: "Screen", device_organization_id: ":org" },
    ok: 201,
  },
  { method: "DELETE", path: "/v1/devices/:device", permissions: ["devices:write"], ok: 204 },
];

function fixtures(admin: TestAccount) {
  const made = new Map<string, Promise<string>>();
  const makers: Record<string, () => Promise<string>> = {
    ":email": async () => uniqueEmail("matrix"),
    ":user": async () => {
      const res = await call("POST", "/v1/users", {
        token: admin.token,
        body: { email: uniqueEmail("target"), first_name: "T", last_name: "U", password: PASSWORD },
      });
      return res.body.id;
    },
    ":group": () => createGroup(admin, []),
    ":org": () => createOrg(admin),
    ":device": async () => (await provision(admin.token, await get(":org"))).body.id,
    ":token": async () => (await createToken(admin.token, ["users:read"])).body.id,
  };
  const get = (key: string) => {
    if (!made.has(key)) made.set(key, makers[key]!());
    return made.get(key)!;
  };
  return async (text: string) => {
    for (const key of Object.keys(makers))
      if (text.includes(key)) text = text.replaceAll(key, await get(key));
    return text;
  };
}

describe("permission matrix", () => {
  it.each(MATRIX)("$method $path without a token is 401", async (row) => {
    const path = row.path.replace(/:(\w+)/g, "$1_00000000000000000000000000");
    const res = await call(row.method, path, { body: row.body });
    expectProblem(res, 401, "unauthorized");
    expectProblem(
      await call(row.method, path, { body: row.body, token: "not-a-token" }),
      401,
      "unauthorized",
    );
  });

  it.each(MATRIX)("$method $path needs $permissions", async (row) => {
    const admin = await createAccount();
    const resolve = fixtures(admin);
    const path = await resolve(row.path);
    const body =
      row.body === undefined ? undefined : JSON.parse(await resolve(JSON.stringify(row.body)));
    const groupId = await createGroup(admin, []);
    const user = await createUser(admin, { groupIds: [groupId] });

    // Everything but one required permission: refused, and nothing is written.
    for (const missing of row.permissions) {
      await setGrants(
        admin,
        groupId,
        PERMISSIONS.filter((p) => p !== missing).map((permission) => ({ permission })),
      );
      const before = await eventCount(admin.accountId);
      expectProblem(await call(row.method, path, { token: user.token, body }), 403, "forbidden");
      expect(await eventCount(admin.accountId)).toBe(before);
    }

    // Exactly the required permissions: served, with the same access token.
    await setGrants(
      admin,
      groupId,
      row.permissions.map((permission) => ({ permission })),
    );
    const res = await call(row.method, path, { token: user.token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(row.ok);
  });

  it("GET /v1/me and GET /v1/account need no permission", async () => {
    const admin = await createAccount();
    const user = await userWithGrants(admin, []);
    const me = await call("GET", "/v1/me", { token: user.token });
    expect(me.status).toBe(200);
    expect(me.body.permissions).toEqual([]);
    expect(me.body.groups.map((g: any) => g.id).sort()).toEqual(
      [user.groupId, admin.membersId].sort(),
    );
    expect((await call("GET", "/v1/account", { token: user.token })).status).toBe(200);
  });
});

describe("changes apply on the next request", () => {
  it("removing a user from a group refuses the lost permission at once", async () => {
    const admin = await createAccount();
    const readers = await createGroup(admin, [{ permission: "users:read" }]);
    const devices = await createGroup(admin, [{ permission: "devices:read" }]);
    const user = await createUser(admin, { groupIds: [readers, devices] });
    expect((await call("GET", "/v1/users", { token: user.token })).status).toBe(200);

    const put = await call("PUT", `/v1/users/${user.id}/groups`, {
      token: admin.token,
      body: { group_ids: [devices] },
    });
    expect(put.status).toBe(200);
    // Members stays: it is everyone's group.
    expect(put.body.group_ids).toEqual([devices, admin.membersId].sort());
    expect(
      await rows(
        "SELECT group_id FROM group_memberships WHERE user_id = ? ORDER BY group_id",
        user.id,
      ),
    ).toEqual([devices, admin.membersId].sort().map((group_id) => ({ group_id })));

    expectProblem(await call("GET", "/v1/users", { token: user.token }), 403, "forbidden");
    expect((await call("GET", "/v1/devices", { token: user.token })).status).toBe(200);
    const me = await call("GET", "/v1/me", { token: user.token });
    expect(me.body.permissions).toEqual([{ permission: "devices:read", scope: null }]);
  });

  it("changing a group's grants applies at once, both ways", async () => {
    const admin = await createAccount();
    const user = await userWithGrants(admin, [{ permission: "users:read" }]);
    expect((await call("GET", "/v1/users", { token: user.token })).status).toBe(200);
    expectProblem(await call("GET", "/v1/groups", { token: user.token }), 403, "forbidden");

    await setGrants(admin, user.groupId, [{ permission: "groups:read" }]);
    expect(await rows("SELECT permission FROM grants WHERE group_id = ?", user.groupId)).toEqual([
      { permission: "groups:read" },
    ]);
    expectProblem(await call("GET", "/v1/users", { token: user.token }), 403, "forbidden");
    expect((await call("GET", "/v1/groups", { token: user.token })).status).toBe(200);

    await setGrants(admin, user.groupId, []);
    expectProblem(await call("GET", "/v1/groups", { token: user.token }), 403, "forbidden");
  });
});

describe("scoped grants", () => {
  it("a device grant scoped to one organization", async () => {
    const admin = await createAccount();
    const orgA = await createOrg(admin, "A");
    const orgB = await createOrg(admin, "B");
    const deviceA = (await provision(admin.token, orgA, "in A")).body.id as string;
    const deviceB = (await provision(admin.token, orgB, "in B")).body.id as string;
    const scope = { device_organization_ids: [orgA] };
    const user = await userWithGrants(admin, [
      { permission: "devices:read", scope },
      { permission: "devices:write", scope },
    ]);

    const made = await provision(user.token, orgA, "mine");
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      name: "mine",
      device_organization_id: orgA,
      created_via: "provisioned",
    });
    expect(
      await rows("SELECT device_organization_id FROM devices WHERE id = ?", made.body.id),
    ).toEqual([{ device_organization_id: orgA }]);

    expectProblem(await provision(user.token, orgB, "sneaky"), 404, "not_found");
    expect(await rows("SELECT id FROM devices WHERE device_organization_id = ?", orgB)).toEqual([
      { id: deviceB },
    ]);
    expectProblem(
      await call("DELETE", `/v1/devices/${deviceB}`, { token: user.token }),
      404,
      "not_found",
    );
    expectProblem(
      await call("POST", "/v1/device-organizations", { token: user.token, body: { name: "C" } }),
      403,
      "forbidden",
    );

    const devices = await call("GET", "/v1/devices", { token: user.token });
    expect(devices.body.data.map((d: any) => d.id).sort()).toEqual([deviceA, made.body.id].sort());
    const orgs = await call("GET", "/v1/device-organizations", { token: user.token });
    expect(orgs.body.data.map((o: any) => o.id)).toEqual([orgA]);
    const all = await call("GET", "/v1/devices", { token: admin.token });
    expect(all.body.data).toHaveLength(3);

    expect((await call("DELETE", `/v1/devices/${deviceA}`, { token: user.token })).status).toBe(
      204,
    );
    expect(await rows("SELECT id FROM devices WHERE id = ?", deviceA)).toEqual([]);

    const check = (permission: string, orgId: string) =>
      call("POST", "/v1/authz/check", {
        token: admin.token,
        body: { user_id: user.id, permission, resource: { device_organization_id: orgId } },
      });
    expect((await check("devices:write", orgA)).body).toEqual({
      allowed: true,
      granted_by: [user.groupId],
    });
    expect((await check("devices:read", orgA)).body).toEqual({
      allowed: true,
      granted_by: [user.groupId],
    });
    expect((await check("devices:write", orgB)).body).toEqual({ allowed: false, granted_by: [] });
  });

  it("read in two organizations but write in one: 403 where it can read only", async () => {
    const admin = await createAccount();
    const orgA = await createOrg(admin, "A");
    const orgB = await createOrg(admin, "B");
    const user = await userWithGrants(admin, [
      { permission: "devices:read", scope: { device_organization_ids: [orgA, orgB] } },
      { permission: "devices:write", scope: { device_organization_ids: [orgA] } },
    ]);
    expectProblem(await provision(user.token, orgB), 403, "forbidden");
    expect(await rows("SELECT id FROM devices WHERE device_organization_id = ?", orgB)).toEqual([]);
    expect((await provision(user.token, orgA)).status).toBe(201);
    const orgs = await call("GET", "/v1/device-organizations", { token: user.token });
    expect(orgs.body.data.map((o: any) => o.id).sort()).toEqual([orgA, orgB].sort());
  });

  it("a content grant scoped to content types", async () => {
    const admin = await createAccount();
    const user = await userWithGrants(admin, [
      { permission: "content:read", scope: { content_types: ["playlist", "layout"] } },
    ]);
    const check = (resource: Record<string, string>, permission = "content:read") =>
      call("POST", "/v1/authz/check", {
        token: admin.token,
        body: { user_id: user.id, permission, resource },
      });
    expect((await check({ content_type: "playlist" })).body).toEqual({
      allowed: true,
      granted_by: [user.groupId],
    });
    expect((await check({ content_type: "layout" })).body).toEqual({
      allowed: true,
      granted_by: [user.groupId],
    });
    expect((await check({ content_type: "video" })).body).toEqual({
      allowed: false,
      granted_by: [],
    });
    expect((await check({ content_type: "playlist" }, "content:write")).body).toEqual({
      allowed: false,
      granted_by: [],
    });
    const me = await call("GET", "/v1/me", { token: user.token });
    expect(me.body.permissions).toEqual([
      { permission: "content:read", scope: { content_types: ["playlist", "layout"] } },
    ]);
  });

  it("authz/check unions groups and refuses a disabled user", async () => {
    const admin = await createAccount();
    const g1 = await createGroup(admin, [
      { permission: "content:read", scope: { content_types: ["playlist"] } },
    ]);
    const g2 = await createGroup(admin, [{ permission: "content:read" }]);
    const user = await createUser(admin, { groupIds: [g1, g2] });
    const check = () =>
      call("POST", "/v1/authz/check", {
        token: admin.token,
        body: {
          user_id: user.id,
          permission: "content:read",
          resource: { content_type: "playlist" },
        },
      });
    expect((await check()).body.granted_by.sort()).toEqual([g1, g2].sort());
    expect(
      (
        await call("PATCH", `/v1/users/${user.id}`, {
          token: admin.token,
          body: { status: "disabled" },
        })
      ).status,
    ).toBe(200);
    expect((await check()).body).toEqual({ allowed: false, granted_by: [] });
  });
});

describe("grant validation on POST /v1/groups", () => {
  const invalid: [string, unknown][] = [
    ["an unknown permission", [{ permission: "users:delete" }]],
    [
      "content_types on devices:read",
      [{ permission: "devices:read", scope: { content_types: ["playlist"] } }],
    ],
    [
      "device_organization_ids on content:read",
      [{ permission: "content:read", scope: { device_organization_ids: ["dorg_x"] } }],
    ],
    [
      "a device scope on users:read",
      [{ permission: "users:read", scope: { device_organization_ids: ["dorg_x"] } }],
    ],
    [
      "a content scope on users:read",
      [{ permission: "users:read", scope: { content_types: ["playlist"] } }],
    ],
    [
      "an empty scope list",
      [{ permission: "devices:read", scope: { device_organization_ids: [] } }],
    ],
    [
      "both scope keys",
      [
        {
          permission: "devices:read",
          scope: { device_organization_ids: ["dorg_x"], content_types: ["x"] },
        },
      ],
    ],
  ];

  it.each(invalid)("%s is 422 and creates nothing", async (_label, grants) => {
    const admin = await createAccount();
    const name = `invalid-${uniqueEmail()}`;
    expectProblem(
      await call("POST", "/v1/groups", { token: admin.token, body: { name, grants } }),
      422,
      "validation_failed",
    );
    expect(await rows("SELECT id FROM groups WHERE name = ?", name)).toEqual([]);
  });

  it("a device organization of another account, or none, is 422", async () => {
    const admin = await createAccount();
    const other = await createAccount();
    const foreign = await createOrg(other, "theirs");
    const own = await createOrg(admin, "ours");
    for (const ids of [[foreign], [own, foreign], ["dorg_01h455vb4pex5vsknk084sn02q"]]) {
      const res = await call("POST", "/v1/groups", {
        token: admin.token,
        body: {
          name: "scoped",
          grants: [{ permission: "devices:read", scope: { device_organization_ids: ids } }],
        },
      });
      expectProblem(res, 422, "validation_failed");
      expect(
        await rows(
          "SELECT id FROM groups WHERE account_id = ? AND name = 'scoped'",
          admin.accountId,
        ),
      ).toEqual([]);
    }
    // The same org on PATCH: refused, grants unchanged.
    const groupId = await createGroup(admin, [
      { permission: "devices:read", scope: { device_organization_ids: [own] } },
    ]);
    const patch = await call("PATCH", `/v1/groups/${groupId}`, {
      token: admin.token,
      body: {
        grants: [{ permission: "devices:read", scope: { device_organization_ids: [foreign] } }],
      },
    });
    expectProblem(patch, 422, "validation_failed");
    expect(await rows("SELECT permission, scope FROM grants WHERE group_id = ?", groupId)).toEqual([
      { permission: "devices:read", scope: JSON.stringify({ device_organization_ids: [own] }) },
    ]);
  });
});

describe("API tokens", () => {
  /** Through the Worker's fetch handler, waiting for its waitUntil work (the last-use write). */
  async function settledCall(path: string, token: string) {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`http://api.test${path}`, { headers: { authorization: `Bearer ${token}` } }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return { status: res.status, body: (await res.json()) as any };
  }

  it("is shown once, authenticates, is limited to its permissions and records its use", async () => {
    const admin = await createAccount();
    const created = await createToken(admin.token, ["users:read"]);
    expect(created.status).toBe(201);
    const { id, token } = created.body;
    expect(token).toMatch(/^tok_/);
    expect(created.body).toMatchObject({
      permissions: ["users:read"],
      user_id: admin.adminId,
      last_used_at: null,
    });
    const [row] = await rows<any>("SELECT * FROM api_tokens WHERE id = ?", id);
    expect(row).toMatchObject({
      account_id: admin.accountId,
      user_id: admin.adminId,
      revoked_at: null,
      last_used_at: null,
    });
    expect(JSON.parse(row.permissions)).toEqual(["users:read"]);
    expect(JSON.stringify(row)).not.toContain(token.split(".")[1]);

    const me = await settledCall("/v1/me", token);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(admin.adminId);
    expect(me.body.authenticated_via).toEqual({ type: "api_token", id });
    expect(me.body.permissions).toEqual([{ permission: "users:read", scope: null }]);

    const [used] = await rows<any>("SELECT last_used_at FROM api_tokens WHERE id = ?", id);
    expect(used.last_used_at).toBeGreaterThanOrEqual(row.created_at);
    const usedEvents = await rows<any>(
      "SELECT * FROM activity_events WHERE type = 'auth.api_token_used' AND subject_id = ?",
      id,
    );
    expect(usedEvents).toHaveLength(1);
    expect(usedEvents[0]).toMatchObject({
      account_id: admin.accountId,
      actor_type: "api_token",
      actor_id: id,
      method: "api_token",
    });
    const createdEvents = await rows<any>(
      "SELECT * FROM activity_events WHERE type = 'api_token.created' AND subject_id = ?",
      id,
    );
    expect(createdEvents).toHaveLength(1);
    expect(createdEvents[0]).toMatchObject({
      account_id: admin.accountId,
      actor_type: "user",
      actor_id: admin.adminId,
    });

    // Use is recorded as an event at most once a minute; last_used_at every time.
    await settledCall("/v1/me", token);
    expect(
      await rows(
        "SELECT id FROM activity_events WHERE type = 'auth.api_token_used' AND subject_id = ?",
        id,
      ),
    ).toHaveLength(1);
    clock.offsetMs = 2 * 60 * 1000;
    await settledCall("/v1/me", token);
    expect(
      await rows(
        "SELECT id FROM activity_events WHERE type = 'auth.api_token_used' AND subject_id = ?",
        id,
      ),
    ).toHaveLength(2);
    const [later] = await rows<any>("SELECT last_used_at FROM api_tokens WHERE id = ?", id);
    expect(later.last_used_at).toBeGreaterThanOrEqual(used.last_used_at + 2 * 60 * 1000);
    clock.offsetMs = 0;

    expect((await call("GET", "/v1/users", { token })).status).toBe(200);
    expectProblem(
      await call("POST", "/v1/users", {
        token,
        body: { email: uniqueEmail(), first_name: "A", last_name: "B", password: PASSWORD },
      }),
      403,
      "forbidden",
    );
    expectProblem(await call("GET", "/v1/groups", { token }), 403, "forbidden");
    expectProblem(await call("GET", "/v1/api-tokens", { token }), 403, "forbidden");

    const list = await call("GET", "/v1/api-tokens", { token: admin.token });
    expect(list.status).toBe(200);
    const listed = list.body.data.find((t: any) => t.id === id);
    expect(listed.last_used_at).not.toBeNull();
    expect(listed).not.toHaveProperty("token");
    expect(listed).not.toHaveProperty("secret_hash");
    expect(JSON.stringify(list.body)).not.toContain(token.split(".")[1]);
    expect(JSON.stringify(list.body)).not.toContain(row.secret_hash);
  });

  it("cannot carry a permission its creator does not hold", async () => {
    const admin = await createAccount();
    const user = await userWithGrants(admin, [
      { permission: "api_tokens:manage" },
      { permission: "users:read" },
    ]);
    const res = await createToken(user.token, ["users:read", "users:write"]);
    expectProblem(res, 403, "permission_not_held");
    expect(await rows("SELECT id FROM api_tokens WHERE user_id = ?", user.id)).toEqual([]);
    expect((await createToken(user.token, ["users:read"])).status).toBe(201);
    // A token that may manage tokens still cannot mint any: tokens are made from a session.
    const manager = (await createToken(admin.token, ["api_tokens:manage"])).body.token as string;
    expectProblem(await createToken(manager, ["api_tokens:manage"]), 403, "forbidden");
  });

  it("narrows to what its creator holds now", async () => {
    const admin = await createAccount();
    const user = await userWithGrants(admin, [
      { permission: "api_tokens:manage" },
      { permission: "users:read" },
    ]);
    const { token } = (await createToken(user.token, ["users:read"])).body;
    expect((await call("GET", "/v1/users", { token })).status).toBe(200);
    await setGrants(admin, user.groupId, [{ permission: "api_tokens:manage" }]);
    expectProblem(await call("GET", "/v1/users", { token }), 403, "forbidden");
  });

  it("stops working when revoked", async () => {
    const admin = await createAccount();
    const { id, token } = (await createToken(admin.token, ["users:read"])).body;
    expect((await call("GET", "/v1/me", { token })).status).toBe(200);
    expect((await call("DELETE", `/v1/api-tokens/${id}`, { token: admin.token })).status).toBe(204);
    expectProblem(await call("GET", "/v1/me", { token }), 401, "unauthorized");
    const [row] = await rows<any>("SELECT revoked_at FROM api_tokens WHERE id = ?", id);
    expect(row.revoked_at).not.toBeNull();
    const events = await rows<any>(
      "SELECT * FROM activity_events WHERE type = 'api_token.revoked' AND subject_id = ?",
      id,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor_type: "user", actor_id: admin.adminId });
    const list = await call("GET", "/v1/api-tokens", { token: admin.token });
    expect(list.body.data.map((t: any) => t.id)).not.toContain(id);
    expectProblem(
      await call("DELETE", `/v1/api-tokens/${id}`, { token: admin.token }),
      404,
      "not_found",
    );
  });

  it("stops working when it expires", async () => {
    const admin = await createAccount();
    const expiresAt = new Date(clock.now() + 60 * 60 * 1000).toISOString();
    const created = await createToken(admin.token, ["users:read"], { expires_at: expiresAt });
    expect(created.status).toBe(201);
    expect(created.body.expires_at).toBe(expiresAt);
    const { token } = created.body;
    expect((await call("GET", "/v1/me", { token })).status).toBe(200);
    clock.offsetMs = 2 * 60 * 60 * 1000;
    expectProblem(await call("GET", "/v1/me", { token }), 401, "unauthorized");
    clock.offsetMs = 0;
    expect((await call("GET", "/v1/me", { token })).status).toBe(200);
    const past = new Date(clock.now() - 1000).toISOString();
    expectProblem(
      await createToken(admin.token, ["users:read"], { expires_at: past }),
      422,
      "validation_failed",
    );
  });

  it("is refused when tampered with", async () => {
    const admin = await createAccount();
    const { token } = (await createToken(admin.token, ["users:read"])).body as { token: string };
    const last = token.at(-1) === "A" ? "B" : "A";
    const [tokenId, secret] = token.split(".") as [string, string];
    const otherId = (await createToken(admin.token, ["users:read"])).body.id as string;
    for (const bad of [
      token.slice(0, -1) + last,
      `${otherId}.${secret}`,
      token.slice(0, -1),
      `${tokenId}.`,
      tokenId,
    ]) {
      expectProblem(await call("GET", "/v1/me", { token: bad }), 401, "unauthorized");
    }
    expect((await call("GET", "/v1/me", { token })).status).toBe(200);
  });

  it("stops working when its owner is disabled or deleted", async () => {
    const admin = await createAccount();
    const grants = [{ permission: "api_tokens:manage" }, { permission: "users:read" }];
    const owner = await userWithGrants(admin, grants);
    const { token } = (await createToken(owner.token, ["users:read"])).body;
    expect((await call("GET", "/v1/users", { token })).status).toBe(200);
    expect(
      (
        await call("PATCH", `/v1/users/${owner.id}`, {
          token: admin.token,
          body: { status: "disabled" },
        })
      ).status,
    ).toBe(200);
    expectProblem(await call("GET", "/v1/users", { token }), 401, "unauthorized");

    const other = await createUser(admin, { groupIds: [owner.groupId] });
    const second = (await createToken(other.token, ["users:read"])).body.token as string;
    expect((await call("DELETE", `/v1/users/${other.id}`, { token: admin.token })).status).toBe(
      204,
    );
    expectProblem(await call("GET", "/v1/me", { token: second }), 401, "unauthorized");
  });
});

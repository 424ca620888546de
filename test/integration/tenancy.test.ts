import { describe, expect, it } from "vitest";
import {
  call,
  createAccount,
  createGroup,
  createUser,
  PASSWORD,
  type Reply,
  rows,
  uniqueEmail,
} from "../helpers";

function expectNotFound(res: Reply, secrets: string[] = []) {
  expect(res.status, JSON.stringify(res.body)).toBe(404);
  expect(res.body.code).toBe("not_found");
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const text = JSON.stringify(res.body);
  for (const s of secrets) expect(text).not.toContain(s);
}

/** Every row of account B that A's requests could touch. */
async function snapshot(accountId: string) {
  const q = (table: string, order = "id") =>
    rows(`SELECT * FROM ${table} WHERE account_id = ? ORDER BY ${order}`, accountId);
  return {
    accounts: await rows("SELECT * FROM accounts WHERE id = ?", accountId),
    users: await q("users"),
    groups: await q("groups"),
    grants: await q("grants"),
    memberships: await q("group_memberships", "group_id, user_id"),
    sessions: await q("sessions"),
    devices: await q("devices"),
    organizations: await q("device_organizations"),
    apiTokens: await q("api_tokens"),
    // streamed_at is the stream consumer's bookkeeping, written in the background; it is not data A could change.
    events: (await q("activity_events")).map(({ streamed_at: _streamed, ...event }) => event),
  };
}

/** Account B with one of everything: a user, a scoped group, an organization with a device, an API token. */
async function populatedAccount(name: string) {
  const admin = await createAccount("enterprise", name);
  const org = await call("POST", "/v1/device-organizations", {
    token: admin.token,
    body: { name: `${name} lobby` },
  });
  const orgId = org.body.id as string;
  const groupId = await createGroup(
    admin,
    [{ permission: "devices:read", scope: { device_organization_ids: [orgId] } }],
    `${name} screens`,
  );
  const user = await createUser(admin, { groupIds: [groupId] });
  const device = await call("POST", "/v1/devices", {
    token: admin.token,
    body: { name: `${name} screen`, device_organization_id: orgId },
  });
  const token = await call("POST", "/v1/api-tokens", {
    token: admin.token,
    body: { name: `${name} ci`, permissions: ["users:read"] },
  });
  expect([org.status, device.status, token.status]).toEqual([201, 201, 201]);
  return {
    admin,
    orgId,
    groupId,
    user,
    deviceId: device.body.id as string,
    tokenId: token.body.id as string,
    apiToken: token.body.token as string,
  };
}

/** All ids of a list, following cursors with a small page size. */
async function allIds(path: string, token: string) {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const res: Reply = await call(
      "GET",
      `${path}${sep}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      { token },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    ids.push(...res.body.data.map((r: any) => r.id));
    cursor = res.body.next_cursor;
  } while (cursor);
  return ids;
}

describe("another account's resources are 404", () => {
  it("users, groups, devices and tokens of B are out of A's reach, and stay unchanged", async () => {
    const a = await createAccount("enterprise", "Alpha");
    const b = await populatedAccount("Bravo");
    const aGroup = await createGroup(a, [{ permission: "users:read" }]);
    const before = await snapshot(b.admin.accountId);
    const secrets = [b.user.email, b.admin.adminEmail, "Bravo"];

    const attempts: [string, string, unknown?][] = [
      ["GET", `/v1/users/${b.user.id}`],
      ["PATCH", `/v1/users/${b.user.id}`, { first_name: "Hijacked" }],
      ["PATCH", `/v1/users/${b.user.id}`, { status: "disabled" }],
      ["PUT", `/v1/users/${b.user.id}/groups`, { group_ids: [a.membersId] }],
      ["PUT", `/v1/users/${b.user.id}/groups`, { group_ids: [aGroup] }],
      ["DELETE", `/v1/users/${b.user.id}`],
      ["GET", `/v1/users/${b.admin.adminId}`],
      ["DELETE", `/v1/users/${b.admin.adminId}`],
      ["GET", `/v1/users/${b.user.id}/sessions`],
      ["DELETE", `/v1/users/${b.user.id}/sessions`],
      ["DELETE", `/v1/users/${b.admin.adminId}/sessions`],
      ["POST", "/v1/authz/check", { user_id: b.user.id, permission: "devices:read" }],
      [
        "POST",
        "/v1/authz/check",
        {
          user_id: b.user.id,
          permission: "devices:read",
          resource: { device_organization_id: b.orgId },
        },
      ],
      ["GET", `/v1/groups/${b.groupId}`],
      [
        "PATCH",
        `/v1/groups/${b.groupId}`,
        { name: "Hijacked", grants: [{ permission: "users:write" }] },
      ],
      ["DELETE", `/v1/groups/${b.groupId}`],
      ["GET", `/v1/groups/${b.admin.administratorsId}`],
      ["PATCH", `/v1/groups/${b.admin.membersId}`, { description: "Hijacked" }],
      ["DELETE", `/v1/groups/${b.admin.membersId}`],
      ["DELETE", `/v1/devices/${b.deviceId}`],
      ["POST", "/v1/devices", { name: "Planted", device_organization_id: b.orgId }],
      ["DELETE", `/v1/api-tokens/${b.tokenId}`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await call(method, path, { token: a.token, body });
      expectNotFound(res, secrets);
    }

    expect(await snapshot(b.admin.accountId)).toEqual(before);
    // B's own credentials keep working.
    expect((await call("GET", "/v1/me", { token: b.user.token })).status).toBe(200);
    const viaToken = await call("GET", "/v1/users", { token: b.apiToken });
    expect(viaToken.status).toBe(200);
    expect(viaToken.body.data.map((u: any) => u.id)).toContain(b.user.id);
  });

  it("B's credentials never reach A's rows either", async () => {
    const a = await createAccount("enterprise", "Alpha");
    const b = await populatedAccount("Bravo");
    const aUser = await createUser(a);
    expectNotFound(await call("GET", `/v1/users/${aUser.id}`, { token: b.apiToken }), [
      aUser.email,
    ]);
    expectNotFound(await call("GET", `/v1/users/${a.adminId}`, { token: b.admin.token }), [
      a.adminEmail,
    ]);
    expectNotFound(
      await call("POST", "/v1/authz/check", {
        token: b.admin.token,
        body: { user_id: a.adminId, permission: "users:read" },
      }),
    );
  });
});

describe("lists never include another account's rows", () => {
  it("users, groups, devices, organizations and tokens", async () => {
    const a = await populatedAccount("Alpha");
    const b = await populatedAccount("Bravo");
    const own = async (table: string, accountId: string) =>
      (
        await rows<{ id: string }>(
          `SELECT id FROM ${table} WHERE account_id = ? ORDER BY id`,
          accountId,
        )
      ).map((r) => r.id);
    const lists: [string, string][] = [
      ["/v1/users", "users"],
      ["/v1/groups", "groups"],
      ["/v1/devices", "devices"],
      ["/v1/device-organizations", "device_organizations"],
      ["/v1/api-tokens", "api_tokens"],
    ];
    for (const [path, table] of lists) {
      const seen = await allIds(path, a.admin.token);
      expect(seen.sort(), path).toEqual(await own(table, a.admin.accountId));
      const theirs = await own(table, b.admin.accountId);
      expect(theirs.length, table).toBeGreaterThan(0);
      for (const id of theirs) expect(seen, path).not.toContain(id);
    }
    // Filters naming B's rows find nothing.
    expect(await allIds(`/v1/users?group_id=${b.groupId}`, a.admin.token)).toEqual([]);
    expect(await allIds(`/v1/users?group_id=${b.admin.administratorsId}`, a.admin.token)).toEqual(
      [],
    );
    expect(await allIds(`/v1/users?q=${encodeURIComponent(b.user.email)}`, a.admin.token)).toEqual(
      [],
    );
  });
});

describe("another account's groups and organizations cannot be referenced", () => {
  it("B's group in A's PUT /v1/users/:id/groups or POST /v1/users is 422 and changes nothing", async () => {
    const a = await createAccount("enterprise", "Alpha");
    const b = await populatedAccount("Bravo");
    const aUser = await createUser(a);
    const memberships = () =>
      rows("SELECT group_id FROM group_memberships WHERE user_id = ? ORDER BY group_id", aUser.id);
    const mine = await memberships();
    expect(mine).toEqual([{ group_id: a.membersId }]);
    const before = await snapshot(b.admin.accountId);
    const aBefore = await rows("SELECT * FROM users WHERE account_id = ? ORDER BY id", a.accountId);

    for (const group_ids of [[b.groupId], [a.membersId, b.groupId], [b.admin.administratorsId]]) {
      const put = await call("PUT", `/v1/users/${aUser.id}/groups`, {
        token: a.token,
        body: { group_ids },
      });
      expect(put.status, JSON.stringify(put.body)).toBe(422);
      expect(put.body.code).toBe("validation_failed");
      expect(await memberships()).toEqual(mine);

      const email = uniqueEmail("cross");
      const post = await call("POST", "/v1/users", {
        token: a.token,
        body: { email, first_name: "X", last_name: "Y", password: PASSWORD, group_ids },
      });
      expect(post.status, JSON.stringify(post.body)).toBe(422);
      expect(post.body.code).toBe("validation_failed");
      expect(await rows("SELECT id FROM users WHERE email = ?", email)).toEqual([]);
    }
    expect(await rows("SELECT * FROM users WHERE account_id = ? ORDER BY id", a.accountId)).toEqual(
      aBefore,
    );
    expect(await snapshot(b.admin.accountId)).toEqual(before);
  });

  it("B's organization in A's group scope is 422", async () => {
    const a = await createAccount("enterprise", "Alpha");
    const b = await populatedAccount("Bravo");
    const res = await call("POST", "/v1/groups", {
      token: a.token,
      body: {
        name: "Spy",
        grants: [{ permission: "devices:read", scope: { device_organization_ids: [b.orgId] } }],
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("validation_failed");
    expect(
      await rows("SELECT id FROM groups WHERE account_id = ? AND name = 'Spy'", a.accountId),
    ).toEqual([]);
  });
});

describe("malformed or absent ids are 404", () => {
  const ids = [
    "usr_01h455vb4pex5vsknk084sn02q",
    "grp_01h455vb4pex5vsknk084sn02q",
    "dev_01h455vb4pex5vsknk084sn02q",
    "tok_01h455vb4pex5vsknk084sn02q",
    "nonsense",
    "usr_",
    "' OR '1'='1",
    "%00",
    "ünïcödé",
    "1",
  ];
  const withMembers = (body: unknown, membersId: string) =>
    body === undefined
      ? undefined
      : JSON.parse(JSON.stringify(body).replace("__members__", membersId));
  const routes: [string, string, unknown?][] = [
    ["GET", "/v1/users/:id"],
    ["PATCH", "/v1/users/:id", { first_name: "X" }],
    ["PUT", "/v1/users/:id/groups", { group_ids: ["__members__"] }],
    ["DELETE", "/v1/users/:id"],
    ["GET", "/v1/users/:id/sessions"],
    ["DELETE", "/v1/users/:id/sessions"],
    ["DELETE", "/v1/me/sessions/:id"],
    ["GET", "/v1/groups/:id"],
    ["PATCH", "/v1/groups/:id", { description: "X" }],
    ["DELETE", "/v1/groups/:id"],
    ["DELETE", "/v1/devices/:id"],
    ["DELETE", "/v1/api-tokens/:id"],
  ];

  it.each(routes)("%s %s", async (method, path, body) => {
    const a = await createAccount();
    const payload = withMembers(body, a.membersId);
    const before = await snapshot(a.accountId);
    for (const id of ids) {
      expectNotFound(
        await call(method, path.replace(":id", encodeURIComponent(id)), {
          token: a.token,
          body: payload,
        }),
      );
    }
    expect(await snapshot(a.accountId)).toEqual(before);
  });

  it("POST /v1/authz/check with an unknown user", async () => {
    const a = await createAccount();
    for (const user_id of ids) {
      expectNotFound(
        await call("POST", "/v1/authz/check", {
          token: a.token,
          body: { user_id, permission: "users:read" },
        }),
      );
    }
  });

  it("POST /v1/devices with an unknown organization", async () => {
    const a = await createAccount();
    for (const id of ["dorg_01h455vb4pex5vsknk084sn02q", "nonsense"]) {
      expectNotFound(
        await call("POST", "/v1/devices", {
          token: a.token,
          body: { name: "X", device_organization_id: id },
        }),
      );
    }
    expect(await rows("SELECT id FROM devices WHERE account_id = ?", a.accountId)).toEqual([]);
  });
});

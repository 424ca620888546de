/**
 * SCIM's boundaries: which credentials open /scim/v2, the plan, tenancy, the groups SCIM
 * cannot reach, the rules that still hold (last administrator, unique emails, capacity),
 * bad and hostile input (a SCIM error, never a 5xx, nothing changed) and concurrency.
 */
import { describe, expect, it } from "vitest";
import {
  call,
  count,
  createAccount,
  createGroup,
  createScimToken,
  createUser,
  expectScimError,
  PLATFORM_TOKEN,
  rows,
  scim,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const newUser = (token: string, extra: Record<string, unknown> = {}) =>
  scim("POST", "/Users", token, { schemas: [USER], userName: uniqueEmail("scim"), ...extra });

const patch = (token: string, path: string, Operations: unknown[]) =>
  scim("PATCH", path, token, { schemas: [PATCH], Operations });

const setPlan = (acct: TestAccount, body: Record<string, unknown>) =>
  call("PATCH", `/v1/platform/accounts/${acct.accountId}`, { token: PLATFORM_TOKEN, body });

/** The account's users, groups and memberships: any change shows. */
const state = async (accountId: string) => ({
  users: await rows("SELECT * FROM users WHERE account_id = ? ORDER BY id", accountId),
  groups: await rows("SELECT * FROM groups WHERE account_id = ? ORDER BY id", accountId),
  memberships: await rows(
    "SELECT * FROM group_memberships WHERE account_id = ? ORDER BY group_id, user_id",
    accountId,
  ),
  events: await count("SELECT count(*) AS n FROM activity_events WHERE account_id = ?", accountId),
});

describe("SCIM credentials", () => {
  it("opens /scim/v2 only with a live SCIM token, and a SCIM token opens nothing else", async () => {
    const acct = await createAccount();
    const { id, token } = await createScimToken(acct);
    expect((await scim("GET", "/Users", token)).status).toBe(200);

    const apiToken = await call("POST", "/v1/api-tokens", {
      token: acct.token,
      body: { name: "script", permissions: ["users:read", "users:write"] },
    });
    for (const other of [acct.token, apiToken.body.token, "", "scim_nope.nope", `${token}x`]) {
      expectScimError(await scim("GET", "/Users", other), 401);
    }
    expectScimError(await call("GET", "/scim/v2/Users"), 401);
    // A SCIM token is no credential anywhere else.
    for (const path of ["/v1/me", "/v1/users", "/v1/groups", "/v1/scim-tokens"]) {
      expect((await call("GET", path, { token })).status).toBe(401);
    }

    expect((await call("DELETE", `/v1/scim-tokens/${id}`, { token: acct.token })).status).toBe(204);
    const revoked = await scim("GET", "/Users", token);
    expectScimError(revoked, 401);
  });

  it("needs a plan with SCIM: refused after a downgrade, working again after an upgrade", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    const created = await newUser(token);
    expect(created.status).toBe(201);
    expect((await setPlan(acct, { plan: "business" })).status).toBe(200);

    const before = await state(acct.accountId);
    const refused = await scim("GET", "/Users", token);
    expectScimError(refused, 403);
    expect(refused.body.detail).toContain("feature_not_in_plan");
    expect(refused.body.detail).toContain("enterprise");
    expectScimError(await newUser(token), 403);
    expectScimError(
      await patch(token, `/Users/${created.body.id}`, [
        { op: "replace", value: { active: false } },
      ]),
      403,
    );
    expect(await state(acct.accountId)).toEqual(before);

    expect((await setPlan(acct, { plan: "enterprise" })).status).toBe(200);
    expect((await scim("GET", `/Users/${created.body.id}`, token)).status).toBe(200);
    expect((await newUser(token)).status).toBe(201);
  });

  it("describes itself: ServiceProviderConfig, ResourceTypes, Schemas", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    const config = await scim("GET", "/ServiceProviderConfig", token);
    expect(config.status).toBe(200);
    expect(config.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(config.body).toMatchObject({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 100 },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [{ type: "oauthbearertoken" }],
    });
    const types = await scim("GET", "/ResourceTypes", token);
    expect(types.body.Resources.map((r: any) => [r.id, r.endpoint, r.schema])).toEqual([
      ["User", "/Users", USER],
      ["Group", "/Groups", GROUP],
    ]);
    expect((await scim("GET", "/ResourceTypes/User", token)).body.schema).toBe(USER);
    const schemas = await scim("GET", "/Schemas", token);
    expect(schemas.body.totalResults).toBe(3);
    const user = await scim("GET", `/Schemas/${USER}`, token);
    expect(user.body.attributes.map((a: any) => a.name)).toContain("userName");
    expectScimError(await scim("GET", "/Schemas/urn:nope", token), 404);
  });
});

describe("SCIM tenancy and reach", () => {
  it("never reaches another account's users or groups", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const tokenA = (await createScimToken(a)).token;
    const tokenB = (await createScimToken(b)).token;
    const theirUser = (await newUser(tokenB)).body;
    const theirGroup = (
      await scim("POST", "/Groups", tokenB, { schemas: [GROUP], displayName: "Theirs" })
    ).body;
    const mine = (await scim("POST", "/Groups", tokenA, { schemas: [GROUP], displayName: "Mine" }))
      .body;

    const before = await state(b.accountId);
    for (const path of [
      `/Users/${theirUser.id}`,
      `/Users/${b.adminId}`,
      `/Groups/${theirGroup.id}`,
    ]) {
      expectScimError(await scim("GET", path, tokenA), 404);
      expectScimError(await scim("DELETE", path, tokenA), 404);
      expectScimError(
        await patch(tokenA, path, [{ op: "replace", path: "displayName", value: "x" }]),
        404,
      );
    }
    expectScimError(
      await scim("PUT", `/Users/${theirUser.id}`, tokenA, { userName: uniqueEmail() }),
      404,
    );
    // Their users cannot be made members of my group, and lists show only mine.
    expectScimError(
      await patch(tokenA, `/Groups/${mine.id}`, [
        { op: "add", path: "members", value: [{ value: theirUser.id }] },
      ]),
      400,
      "invalidValue",
    );
    const listed = await scim("GET", "/Users?count=100", tokenA);
    expect(listed.body.Resources.map((r: any) => r.id)).toEqual([a.adminId]);
    const found = await scim(
      "GET",
      `/Users?filter=${encodeURIComponent(`userName eq "${theirUser.userName}"`)}`,
      tokenA,
    );
    expect(found.body.totalResults).toBe(0);
    expect((await scim("GET", "/Groups", tokenA)).body.Resources.map((g: any) => g.id)).toEqual([
      mine.id,
    ]);
    expect(await state(b.accountId)).toEqual(before);
  });

  it("cannot see or touch the built-in groups or groups administrators made", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    const adminMade = await createGroup(acct, [{ permission: "users:read" }], "Support");
    const user = (await newUser(token)).body;
    const before = await state(acct.accountId);
    for (const gid of [acct.administratorsId, acct.membersId, adminMade]) {
      expectScimError(await scim("GET", `/Groups/${gid}`, token), 404);
      expectScimError(
        await patch(token, `/Groups/${gid}`, [
          { op: "add", path: "members", value: [{ value: user.id }] },
        ]),
        404,
      );
      expectScimError(
        await scim("PUT", `/Groups/${gid}`, token, { displayName: "Taken over", members: [] }),
        404,
      );
      expectScimError(await scim("DELETE", `/Groups/${gid}`, token), 404);
    }
    expect((await scim("GET", "/Groups", token)).body.totalResults).toBe(0);
    expect(
      (
        await scim(
          "GET",
          `/Groups?filter=${encodeURIComponent('displayName eq "Administrators"')}`,
          token,
        )
      ).body.totalResults,
    ).toBe(0);
    // Their names stay taken: a SCIM group cannot shadow them.
    for (const name of ["Administrators", "support"]) {
      expectScimError(
        await scim("POST", "/Groups", token, { schemas: [GROUP], displayName: name }),
        409,
        "uniqueness",
      );
    }
    // A user's groups show only SCIM groups.
    expect((await scim("GET", `/Users/${acct.adminId}`, token)).body.groups).toEqual([]);
    expect(await state(acct.accountId)).toEqual(before);
  });
});

describe("SCIM and the account's rules", () => {
  it("disabling ends sessions and API tokens; the last administrator stays", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    const member = await createUser(acct);
    expect((await call("GET", "/v1/me", { token: member.token })).status).toBe(200);
    const off = await patch(token, `/Users/${member.id}`, [
      { op: "replace", path: "active", value: false },
    ]);
    expect(off.body.active).toBe(false);
    expect((await call("GET", "/v1/me", { token: member.token })).status).toBe(401);
    expect(
      await count(
        "SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL",
        member.id,
      ),
    ).toBe(0);

    const before = await state(acct.accountId);
    const last = await patch(token, `/Users/${acct.adminId}`, [
      { op: "replace", value: { active: "False" } },
    ]);
    expectScimError(last, 409);
    expect(last.body.detail).toContain("last_administrator");
    expectScimError(await scim("DELETE", `/Users/${acct.adminId}`, token), 409);
    expect(await state(acct.accountId)).toEqual(before);
  });

  it("acts on users only within its creator's authority", async () => {
    const acct = await createAccount();
    const ssoAdmins = await createGroup(acct, [{ permission: "sso:manage" }]);
    const manager = await createUser(acct, { groupIds: [ssoAdmins] });
    const made = await call("POST", "/v1/scim-tokens", {
      token: manager.token,
      body: { name: "IdP" },
    });
    expect(made.status).toBe(201);
    const token = made.body.token as string;
    const member = await createUser(acct);

    // Changing an administrator's email would let the token's maker reset their password.
    const before = await state(acct.accountId);
    for (const attempt of [
      patch(token, `/Users/${acct.adminId}`, [
        { op: "replace", path: "userName", value: uniqueEmail("takeover") },
      ]),
      patch(token, `/Users/${acct.adminId}`, [{ op: "replace", value: { active: false } }]),
      scim("DELETE", `/Users/${acct.adminId}`, token),
    ]) {
      const res = await attempt;
      expectScimError(res, 403);
      expect(res.body.detail).toContain("permission_not_held");
    }
    expect(await state(acct.accountId)).toEqual(before);

    // Users who hold no more than the maker stay within reach.
    const renamed = await patch(token, `/Users/${member.id}`, [
      { op: "replace", path: "name.givenName", value: "Renamed" },
    ]);
    expect(renamed.status).toBe(200);
    expect(renamed.body.name.givenName).toBe("Renamed");

    // A token an administrator made reaches administrators.
    const { token: adminMade } = await createScimToken(acct);
    const other = await createUser(acct, { groupIds: [acct.administratorsId] });
    const off = await patch(adminMade, `/Users/${other.id}`, [
      { op: "replace", value: { active: false } },
    ]);
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
  });

  it("keeps emails unique across accounts, and an email change cancels a pending one", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const { token } = await createScimToken(acct);
    const before = await state(acct.accountId);
    for (const userName of [other.adminEmail, acct.adminEmail.toUpperCase()]) {
      const taken = await scim("POST", "/Users", token, { schemas: [USER], userName });
      expectScimError(taken, 409, "uniqueness");
    }
    expect(await state(acct.accountId)).toEqual(before);

    const member = await createUser(acct);
    const asked = uniqueEmail("asked");
    const pending = await call("PATCH", `/v1/users/${member.id}`, {
      token: acct.token,
      body: { email: asked },
    });
    expect(pending.body.pending_email).toBe(asked);
    expectScimError(
      await patch(token, `/Users/${member.id}`, [
        { op: "replace", path: "userName", value: other.adminEmail },
      ]),
      409,
      "uniqueness",
    );
    const fresh = uniqueEmail("idp");
    const changed = await patch(token, `/Users/${member.id}`, [
      { op: "replace", path: "userName", value: fresh },
    ]);
    expect(changed.body.userName).toBe(fresh);
    expect(await rows("SELECT email, pending_email FROM users WHERE id = ?", member.id)).toEqual([
      { email: fresh, pending_email: null },
    ]);
    const types = await rows<{ type: string }>(
      "SELECT type FROM activity_events WHERE subject_id = ? AND actor_type = 'scim_token' ORDER BY rowid",
      member.id,
    );
    expect(types.map((t) => t.type).sort()).toEqual([
      "user.email_change_cancelled",
      "user.email_changed",
    ]);
  });

  it("a full account refuses new users and reactivation with 409", async () => {
    const acct = await createAccount("free");
    await setPlan(acct, { plan: "enterprise", user_limit: 2 });
    const { token } = await createScimToken(acct);
    const first = await newUser(token);
    expect(first.status).toBe(201);
    const full = await newUser(token);
    expectScimError(full, 409);
    expect(full.body.detail).toContain("user limit");
    // A disabled user takes no seat; enabling one when full is refused.
    const off = await newUser(token, { active: false });
    expect(off.status).toBe(201);
    expect(off.body.active).toBe(false);
    const refused = await patch(token, `/Users/${off.body.id}`, [
      { op: "replace", path: "active", value: true },
    ]);
    expectScimError(refused, 409);
    expect((await rows("SELECT status FROM users WHERE id = ?", off.body.id))[0]!.status).toBe(
      "disabled",
    );
    // Disabling frees the seat for them.
    await patch(token, `/Users/${first.body.id}`, [{ op: "replace", value: { active: false } }]);
    const on = await patch(token, `/Users/${off.body.id}`, [
      { op: "replace", path: "active", value: "true" },
    ]);
    expect(on.body.active).toBe(true);
  });

  it("with N free seats and more concurrent creations, exactly N users are created", async () => {
    const acct = await createAccount();
    await setPlan(acct, { user_limit: 4 });
    const { token } = await createScimToken(acct);
    const results = await Promise.all(Array.from({ length: 10 }, () => newUser(token)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    for (const r of results.filter((r) => r.status === 409)) expectScimError(r, 409);
    expect(
      await count(
        "SELECT count(*) AS n FROM users WHERE account_id = ? AND status = 'active'",
        acct.accountId,
      ),
    ).toBe(4);
  });

  it("pages with startIndex and count", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    for (let i = 0; i < 3; i++) await newUser(token);
    const page = await scim("GET", "/Users?startIndex=2&count=2", token);
    expect(page.body).toMatchObject({ totalResults: 4, itemsPerPage: 2, startIndex: 2 });
    const all = (await scim("GET", "/Users", token)).body.Resources.map((r: any) => r.id);
    expect(page.body.Resources.map((r: any) => r.id)).toEqual(all.slice(1, 3));
    expect((await scim("GET", "/Users?count=0", token)).body).toMatchObject({
      totalResults: 4,
      itemsPerPage: 0,
      Resources: [],
    });
    expect((await scim("GET", "/Users?startIndex=0&count=1000", token)).body).toMatchObject({
      startIndex: 1,
      itemsPerPage: 4,
    });
  });
});

describe("SCIM bad and hostile input", () => {
  it("answers bad input with a SCIM error and changes nothing", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    const user = (await newUser(token)).body;
    const group = (await scim("POST", "/Groups", token, { schemas: [GROUP], displayName: "G" }))
      .body;
    const before = await state(acct.accountId);
    const raw = (method: string, path: string, body: string, type = "application/scim+json") =>
      call(method, `/scim/v2${path}`, { token, raw: body, headers: { "content-type": type } });

    expectScimError(await raw("POST", "/Users", "{"), 400, "invalidSyntax");
    expectScimError(await raw("POST", "/Users", "[1]"), 400, "invalidValue");
    expectScimError(await raw("POST", "/Users", '{"userName":"a@example.com"}', "text/plain"), 415);
    expectScimError(
      await raw("POST", "/Users", JSON.stringify({ userName: "x".repeat(70_000) })),
      413,
    );
    for (const body of [
      {},
      { userName: "" },
      { userName: 42 },
      { userName: "not an email" },
      { userName: "not an email", emails: [{ value: "neither" }] },
      { userName: uniqueEmail(), active: "maybe" },
      { userName: uniqueEmail(), name: "Ada" },
      { userName: uniqueEmail(), emails: "a@example.com" },
      { userName: uniqueEmail(), externalId: 7 },
      { userName: `${"a".repeat(250)}@example.com` },
    ]) {
      expectScimError(await scim("POST", "/Users", token, body), 400, "invalidValue");
    }
    for (const body of [{}, { displayName: "" }, { displayName: "x", members: [{ value: 1 }] }]) {
      expectScimError(await scim("POST", "/Groups", token, body), 400, "invalidValue");
    }
    for (const [Operations, scimType] of [
      [undefined, "invalidValue"],
      [[], "invalidValue"],
      [[{ op: "move", path: "active", value: true }], "invalidValue"],
      [[{ op: "remove" }], "noTarget"],
      [[{ op: "replace", path: "name[", value: "x" }], "invalidPath"],
      [[{ op: "replace", path: 'emails[type eq "work"', value: "x" }], "invalidPath"],
      [[{ op: "replace", path: "active", value: "nope" }], "invalidValue"],
      [[{ op: "replace", value: "not an object" }], "invalidValue"],
      [[{ op: "remove", path: "userName" }], "invalidValue"],
      [[{ op: "replace", path: "userName", value: 7 }], "invalidValue"],
    ] as const) {
      expectScimError(
        await scim("PATCH", `/Users/${user.id}`, token, { schemas: [PATCH], Operations }),
        400,
        scimType,
      );
    }
    for (const Operations of [
      [{ op: "add", path: 'members[value eq "x"]', value: [{ value: user.id }] }],
      [{ op: "remove", path: "displayName" }],
      [{ op: "add", path: "members", value: [{ display: "no value" }] }],
    ]) {
      expectScimError(
        await scim("PATCH", `/Groups/${group.id}`, token, { schemas: [PATCH], Operations }),
        400,
      );
    }
    for (const filter of [
      'userName co "a"',
      'title eq "x"',
      "userName eq",
      'userName eq "a" or userName eq "b"',
      "((((",
      'not (userName eq "a")',
      `${"(".repeat(3000)}userName eq "a"${")".repeat(3000)}`,
    ]) {
      expectScimError(
        await scim("GET", `/Users?filter=${encodeURIComponent(filter)}`, token),
        400,
        "invalidFilter",
      );
    }
    expectScimError(
      await scim("GET", `/Groups?filter=${encodeURIComponent('members eq "x"')}`, token),
      400,
      "invalidFilter",
    );
    expectScimError(await scim("GET", "/Users?startIndex=abc", token), 400, "invalidValue");
    expectScimError(await scim("GET", "/Nope", token), 404);
    expectScimError(await scim("PATCH", "/ServiceProviderConfig", token, {}), 405);
    expectScimError(await scim("POST", `/Users/${user.id}`, token, {}), 405);
    expect(await state(acct.accountId)).toEqual(before);
  });

  it("never answers a 5xx to hostile input", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    const user = (await newUser(token)).body;
    const group = (await scim("POST", "/Groups", token, { schemas: [GROUP], displayName: "H" }))
      .body;
    const hostile: unknown[] = [
      "' OR '1'='1",
      "'; DROP TABLE users; --",
      '" OR ""="',
      "\u0000",
      "\ud800",
      "🔑".repeat(300),
      "__proto__",
      null,
      true,
      -1,
      1e308,
      [],
      {},
      [{ value: "\u0000" }],
      { __proto__: { admin: true } },
    ];
    // A lone surrogate cannot be percent-encoded; its UTF-8 bytes stand in for it.
    const enc = (s: string) => {
      try {
        return encodeURIComponent(s);
      } catch {
        return "%ED%A0%80";
      }
    };
    const answers: number[] = [];
    for (const v of hostile) {
      const s = typeof v === "string" ? v : (JSON.stringify(v) ?? "null");
      const requests = [
        scim("GET", `/Users?filter=${enc(`userName eq "${s}"`)}`, token),
        scim("GET", `/Users?filter=${enc(s)}&startIndex=${enc(s)}`, token),
        scim("GET", `/Users/${enc(s)}`, token),
        scim("GET", `/Groups/${enc(s)}?excludedAttributes=${enc(s)}`, token),
        scim("POST", "/Users", token, {
          userName: v,
          name: v,
          emails: v,
          active: v,
          externalId: v,
        }),
        scim("POST", "/Groups", token, { displayName: v, members: v }),
        scim("PUT", `/Users/${user.id}`, token, { userName: v, name: { givenName: v } }),
        scim("PATCH", `/Users/${user.id}`, token, { Operations: v }),
        scim("PATCH", `/Users/${user.id}`, token, {
          Operations: [{ op: "replace", path: s, value: v }],
        }),
        scim("PATCH", `/Users/${user.id}`, token, { Operations: [{ op: v, value: { [s]: v } }] }),
        scim("PATCH", `/Groups/${group.id}`, token, {
          Operations: [{ op: "remove", path: `members[value eq "${s}"]` }],
        }),
        scim("PATCH", `/Groups/${group.id}`, token, {
          Operations: [{ op: "add", path: "members", value: v }],
        }),
        scim("PUT", `/Groups/${group.id}`, token, { displayName: v, members: [{ value: v }] }),
      ];
      for (const res of await Promise.all(requests)) {
        answers.push(res.status);
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
        if (res.status >= 400) expectScimError(res, res.status);
      }
    }
    expect(answers.length).toBe(hostile.length * 13);
  });
});

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
  type Reply,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

const IP = "203.0.113.7";
const UA = "users-test/1.0";
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
const eventTypes = async (subjectId: string) =>
  (
    await rows<{ type: string }>(
      "SELECT type FROM activity_events WHERE subject_id = ? ORDER BY rowid",
      subjectId,
    )
  ).map((r) => r.type);
const userBody = (extra: Record<string, unknown> = {}) => ({
  email: uniqueEmail(),
  first_name: "Ada",
  last_name: "Lovelace",
  password: PASSWORD,
  ...extra,
});

const addAdmin = (acct: TestAccount) => createUser(acct, { groupIds: [acct.administratorsId] });

describe("POST /v1/users (manual creation)", () => {
  it("creates an active user who can log in at once, in Members by default", async () => {
    const acct = await createAccount();
    const email = uniqueEmail("Manual").toUpperCase();
    const res = await call("POST", "/v1/users", {
      ...as(acct),
      body: { email, first_name: " Ada ", last_name: "Lovelace", password: PASSWORD },
    });
    expect(res.status).toBe(201);
    for (const field of [
      "id",
      "email",
      "pending_email",
      "first_name",
      "last_name",
      "status",
      "must_change_password",
      "group_ids",
      "created_via",
      "created_by",
      "created_at",
      "last_login_at",
      "last_login_ip",
      "last_login_method",
    ]) {
      expect(res.body).toHaveProperty(field);
    }
    expect(res.body).toMatchObject({
      email: email.toLowerCase(),
      pending_email: null,
      first_name: "Ada",
      last_name: "Lovelace",
      status: "active",
      must_change_password: false,
      group_ids: [acct.membersId],
      created_via: "manual",
      created_by: acct.adminId,
      last_login_at: null,
      last_login_ip: null,
      last_login_method: null,
    });
    expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
    expect(JSON.stringify(res.body)).not.toMatch(/scrypt|password_hash/);

    const [stored] = await rows("SELECT * FROM users WHERE id = ?", res.body.id);
    expect(stored).toMatchObject({
      account_id: acct.accountId,
      email: email.toLowerCase(),
      status: "active",
      created_via: "manual",
      created_by: acct.adminId,
    });
    expect(await memberships(res.body.id)).toEqual([acct.membersId]);
    expect((await call("GET", `/v1/users/${res.body.id}`, as(acct))).body).toEqual(res.body);

    const session = await login(email, PASSWORD, "198.51.100.9");
    expect(session.user.id).toBe(res.body.id);
    expect(session.must_change_password).toBe(false);
    const after = await call("GET", `/v1/users/${res.body.id}`, as(acct));
    expect(after.body).toMatchObject({
      last_login_ip: "198.51.100.9",
      last_login_method: "password",
    });
    expect(after.body.last_login_at).not.toBeNull();
  });

  it("puts the user in the given groups and honours must_change_password", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const body = userBody({ group_ids: [ops, acct.membersId, ops], must_change_password: true });
    const res = await call("POST", "/v1/users", { ...as(acct), body });
    expect(res.status).toBe(201);
    expect(res.body.group_ids).toEqual([ops, acct.membersId].sort());
    expect(await memberships(res.body.id)).toEqual([ops, acct.membersId].sort());
    expect((await login(body.email)).must_change_password).toBe(true);
  });

  it("answers 409 email_taken, also for another case or another account, and writes nothing", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const first = await call("POST", "/v1/users", { ...as(acct), body: userBody() });
    expect(first.status).toBe(201);
    const before = await count("SELECT count(*) AS n FROM users");
    const eventsBefore = await count("SELECT count(*) AS n FROM activity_events");
    for (const [who, email] of [
      [acct, first.body.email.toUpperCase()],
      [acct, acct.adminEmail],
      [other, first.body.email.replace("user", "USER")],
    ] as const) {
      expectProblem(
        await call("POST", "/v1/users", { ...as(who), body: userBody({ email }) }),
        409,
        "email_taken",
      );
    }
    expect(await count("SELECT count(*) AS n FROM users")).toBe(before);
    expect(await count("SELECT count(*) AS n FROM activity_events")).toBe(eventsBefore);
  });

  it("answers 422 weak_password for short, common or email-based passwords", async () => {
    const acct = await createAccount();
    const email = uniqueEmail("weakling");
    for (const password of [
      "short pass",
      "passwordpassword",
      "aaaaaaaaaaaaaaaaaaaa",
      `${email}!`,
    ]) {
      const res = await call("POST", "/v1/users", {
        ...as(acct),
        body: userBody({ email, password }),
      });
      expectProblem(res, 422, "weak_password");
      expect(res.body.errors[0].path).toBe("password");
    }
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", email)).toBe(0);
  });

  it("rejects group ids that are not the account's with 422 and writes nothing", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const body = userBody({ group_ids: [acct.membersId, other.administratorsId] });
    const res = await call("POST", "/v1/users", { ...as(acct), body });
    expectProblem(res, 422, "validation_failed");
    expect(res.body.errors).toEqual([
      expect.objectContaining({ path: "group_ids", code: "unknown_id" }),
    ]);
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", body.email)).toBe(0);
  });

  it("never exceeds the plan's seats; enabling needs a free seat", async () => {
    const acct = await createAccount("free"); // 3 seats, the admin holds one
    const a = await call("POST", "/v1/users", { ...as(acct), body: userBody() });
    const b = await call("POST", "/v1/users", { ...as(acct), body: userBody() });
    expect([a.status, b.status]).toEqual([201, 201]);
    const over = await call("POST", "/v1/users", { ...as(acct), body: userBody() });
    expectProblem(over, 409, "capacity_exceeded");
    expect(
      await count("SELECT count(*) AS n FROM users WHERE account_id = ?", acct.accountId),
    ).toBe(3);

    expect(
      (await call("PATCH", `/v1/users/${a.body.id}`, { ...as(acct), body: { status: "disabled" } }))
        .status,
    ).toBe(200);
    expect((await call("POST", "/v1/users", { ...as(acct), body: userBody() })).status).toBe(201);
    expectProblem(
      await call("PATCH", `/v1/users/${a.body.id}`, { ...as(acct), body: { status: "active" } }),
      409,
      "capacity_exceeded",
    );
    expect((await rows("SELECT status FROM users WHERE id = ?", a.body.id))[0]!.status).toBe(
      "disabled",
    );
  });
});

describe("GET /v1/users", () => {
  const make = async (acct: TestAccount, extra: Record<string, unknown>) => {
    const res = await call("POST", "/v1/users", { ...as(acct), body: userBody(extra) });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const ids = async (acct: TestAccount, query: string) => {
    const res = await call("GET", `/v1/users?${query}`, as(acct));
    expect(res.status).toBe(200);
    return (res.body.data as { id: string }[]).map((u) => u.id).sort();
  };

  it("q matches email, first or last name, case-insensitively, with % and _ literal", async () => {
    const acct = await createAccount();
    const byEmail = await make(acct, {
      email: uniqueEmail("zebra"),
      first_name: "Ann",
      last_name: "Smith",
    });
    const byFirst = await make(acct, { first_name: "Zebedee", last_name: "Jones" });
    const byLast = await make(acct, { first_name: "Carl", last_name: "Zebrowski" });
    await make(acct, { first_name: "Dora", last_name: "Doe" });
    const percent = await make(acct, { first_name: "50%", last_name: "Off" });
    await make(acct, { first_name: "50x", last_name: "Off" });
    const underscore = await make(acct, { first_name: "a_b", last_name: "Under" });
    await make(acct, { first_name: "axb", last_name: "Under" });
    const accented = await make(acct, { first_name: "Émile", last_name: "Øster" });

    const zeb = [byEmail, byFirst, byLast].sort();
    expect(await ids(acct, "q=zeb")).toEqual(zeb);
    expect(await ids(acct, "q=ZEB")).toEqual(zeb);
    expect(await ids(acct, `q=${encodeURIComponent("50%")}`)).toEqual([percent]);
    expect(await ids(acct, "q=a_b")).toEqual([underscore]);
    expect(await ids(acct, `q=${encodeURIComponent("%")}`)).toEqual([percent]);
    expect(await ids(acct, "q=nobody-has-this")).toEqual([]);
    // Beyond ASCII, names are found at least as written.
    for (const q of ["Émile", "Øster", "mile Ø", "ster"])
      expect(await ids(acct, `q=${encodeURIComponent(q)}`), q).toEqual([accented]);
  });

  it("filters by group_id and status, alone and together", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const inOps = await make(acct, { group_ids: [ops] });
    const member = await make(acct, {});
    const disabled = await make(acct, {});
    expect(
      (await call("PATCH", `/v1/users/${disabled}`, { ...as(acct), body: { status: "disabled" } }))
        .status,
    ).toBe(200);

    expect(await ids(acct, `group_id=${ops}`)).toEqual([inOps]);
    // Everyone is in Members, the administrator too.
    expect(await ids(acct, `group_id=${acct.membersId}`)).toEqual(
      [acct.adminId, inOps, member, disabled].sort(),
    );
    expect(await ids(acct, `group_id=${acct.administratorsId}`)).toEqual([acct.adminId]);
    expect(await ids(acct, "status=disabled")).toEqual([disabled]);
    expect(await ids(acct, "status=active")).toEqual([acct.adminId, inOps, member].sort());
    expect(await ids(acct, `group_id=${acct.membersId}&status=active`)).toEqual(
      [acct.adminId, inOps, member].sort(),
    );
    expect(await ids(acct, "group_id=grp_doesnotexist")).toEqual([]);
  });

  it("walks every user exactly once with limit and cursor", async () => {
    const acct = await createAccount();
    for (let i = 0; i < 5; i++) await make(acct, { first_name: `Page${i}` });
    const expected = (
      await rows<{ id: string }>("SELECT id FROM users WHERE account_id = ?", acct.accountId)
    )
      .map((r) => r.id)
      .sort();
    expect(expected).toHaveLength(6);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Reply = await call(
        "GET",
        `/v1/users?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        as(acct),
      );
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeGreaterThan(0);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((u: { id: string }) => u.id));
      cursor = res.body.next_cursor;
      expect(++pages).toBeLessThanOrEqual(3);
    } while (cursor !== null);
    expect(seen).toHaveLength(expected.length);
    expect([...seen].sort()).toEqual(expected);

    const all = await call("GET", "/v1/users", as(acct));
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.data.map((u: { id: string }) => u.id).sort()).toEqual(expected);
  });

  it("rejects limits outside 1–100 and cursors it did not issue with 422", async () => {
    const acct = await createAccount();
    for (const limit of ["0", "101", "-1", "abc", "1.5"]) {
      const res = await call("GET", `/v1/users?limit=${limit}`, as(acct));
      expectProblem(res, 422, "validation_failed");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("limit");
    }
    for (const cursor of ["garbage!!", "%00%01", "AA"]) {
      const res = await call("GET", `/v1/users?cursor=${cursor}`, as(acct));
      expectProblem(res, 422, "validation_failed");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("cursor");
    }
    expectProblem(await call("GET", "/v1/users?status=gone", as(acct)), 422, "validation_failed");
    expect((await call("GET", "/v1/users?limit=100", as(acct))).status).toBe(200);
  });

  it("never shows, changes or deletes another account's users", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const stranger = await createUser(other);
    expect(await ids(acct, "")).toEqual([acct.adminId]);
    expect(await ids(acct, `group_id=${other.membersId}`)).toEqual([]);
    for (const [method, path, body] of [
      ["GET", `/v1/users/${stranger.id}`, undefined],
      ["PATCH", `/v1/users/${stranger.id}`, { status: "disabled" }],
      ["PUT", `/v1/users/${stranger.id}/groups`, { group_ids: [acct.membersId] }],
      ["DELETE", `/v1/users/${stranger.id}`, undefined],
    ] as const) {
      expectProblem(await call(method, path, { ...as(acct), body }), 404, "not_found");
    }
    expect(await rows("SELECT status FROM users WHERE id = ?", stranger.id)).toEqual([
      { status: "active" },
    ]);
    expect(await memberships(stranger.id)).toEqual([other.membersId]);
  });
});

describe("changing and deleting users", () => {
  it("gets a user and patches names", async () => {
    const acct = await createAccount();
    const u = await createUser(acct);
    const res = await call("PATCH", `/v1/users/${u.id}`, {
      ...as(acct),
      body: { first_name: " Grace " },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: u.id,
      first_name: "Grace",
      last_name: "User",
      status: "active",
    });
    expect(await rows("SELECT first_name, last_name FROM users WHERE id = ?", u.id)).toEqual([
      { first_name: "Grace", last_name: "User" },
    ]);
    expect((await call("GET", `/v1/users/${u.id}`, as(acct))).body).toMatchObject({
      first_name: "Grace",
      last_name: "User",
    });
    expect(await eventTypes(u.id)).toEqual([
      "user.created",
      "auth.login.succeeded",
      "user.updated",
    ]);
    expectProblem(await call("GET", "/v1/users/usr_nosuchuser", as(acct)), 404, "not_found");
  });

  it("disabling revokes every session and blocks login; enabling lets the user back in", async () => {
    const acct = await createAccount();
    const u = await createUser(acct);
    const second = await login(u.email);
    const disabled = await call("PATCH", `/v1/users/${u.id}`, {
      ...as(acct),
      body: { status: "disabled" },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe("disabled");
    const sessions = await rows<{ revoked_at: number | null }>(
      "SELECT revoked_at FROM sessions WHERE user_id = ?",
      u.id,
    );
    expect(sessions).toHaveLength(2);
    expect(sessions.every((s) => s.revoked_at !== null)).toBe(true);
    for (const token of [u.token, second.access_token])
      expectProblem(await call("GET", "/v1/me", { token }), 401, "unauthorized");
    expectProblem(
      await call("POST", "/v1/auth/login", { body: { email: u.email, password: PASSWORD } }),
      403,
      "user_disabled",
    );
    // Disabling again changes nothing and records nothing.
    expect(
      (await call("PATCH", `/v1/users/${u.id}`, { ...as(acct), body: { status: "disabled" } }))
        .status,
    ).toBe(200);

    const enabled = await call("PATCH", `/v1/users/${u.id}`, {
      ...as(acct),
      body: { status: "active" },
    });
    expect(enabled.status).toBe(200);
    expect(enabled.body.status).toBe("active");
    expect((await login(u.email)).user.id).toBe(u.id);
    const types = (await eventTypes(u.id)).filter((t) => t.startsWith("user."));
    expect(types).toEqual(["user.created", "user.disabled", "user.enabled"]);
  });

  it("deletes a user with memberships and sessions, keeping the activity", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const u = await createUser(acct, { groupIds: [ops, acct.membersId] });
    const res = await call("DELETE", `/v1/users/${u.id}`, as(acct));
    expect(res.status).toBe(204);
    expect(await count("SELECT count(*) AS n FROM users WHERE id = ?", u.id)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM group_memberships WHERE user_id = ?", u.id)).toBe(
      0,
    );
    expect(await count("SELECT count(*) AS n FROM sessions WHERE user_id = ?", u.id)).toBe(0);
    expect(await eventTypes(u.id)).toEqual([
      "user.created",
      "auth.login.succeeded",
      "user.deleted",
    ]);
    expectProblem(await call("GET", "/v1/me", { token: u.token }), 401, "unauthorized");
    expectProblem(await call("GET", `/v1/users/${u.id}`, as(acct)), 404, "not_found");
    expectProblem(await call("DELETE", `/v1/users/${u.id}`, as(acct)), 404, "not_found");
    expectProblem(
      await call("POST", "/v1/auth/login", { body: { email: u.email, password: PASSWORD } }),
      401,
      "invalid_credentials",
    );
    const group = await call("GET", `/v1/groups/${ops}`, as(acct));
    expect(group.body.member_count).toBe(0);
  });

  it("PUT /v1/users/:id/groups replaces memberships, effective on the next request", async () => {
    const acct = await createAccount();
    const writers = await createGroup(acct, [{ permission: "groups:write" }]);
    const readers = await createGroup(acct, [{ permission: "devices:read" }]);
    const u = await createUser(acct);
    expectProblem(
      await call("POST", "/v1/groups", { token: u.token, body: { name: "Mine", grants: [] } }),
      403,
      "forbidden",
    );

    const res = await call("PUT", `/v1/users/${u.id}/groups`, {
      ...as(acct),
      body: { group_ids: [writers, readers, writers] },
    });
    expect(res.status).toBe(200);
    // Members stays: it is everyone's group.
    expect(res.body.group_ids).toEqual([writers, readers, acct.membersId].sort());
    expect(await memberships(u.id)).toEqual([writers, readers, acct.membersId].sort());
    const [event] = await rows(
      "SELECT metadata FROM activity_events WHERE subject_id = ? AND type = 'user.groups_changed'",
      u.id,
    );
    expect(JSON.parse(event!.metadata)).toMatchObject({
      from: [acct.membersId],
      to: expect.arrayContaining([writers, readers]),
    });
    expect(
      (await call("POST", "/v1/groups", { token: u.token, body: { name: "Mine", grants: [] } }))
        .status,
    ).toBe(201);

    for (const group_ids of [[], [acct.membersId, "grp_unknown"]]) {
      expectProblem(
        await call("PUT", `/v1/users/${u.id}/groups`, { ...as(acct), body: { group_ids } }),
        422,
        "validation_failed",
      );
    }
    expect(await memberships(u.id)).toEqual([writers, readers, acct.membersId].sort());
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE subject_id = ? AND type = 'user.groups_changed'",
        u.id,
      ),
    ).toBe(1);
  });
});

describe("the last administrator", () => {
  const adminState = async (acct: TestAccount) => ({
    user: await rows("SELECT status, updated_at FROM users WHERE id = ?", acct.adminId),
    groups: await memberships(acct.adminId),
    revoked: await count(
      "SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NOT NULL",
      acct.adminId,
    ),
    events: await eventTypes(acct.adminId),
  });

  it("cannot disable, delete or leave Administrators; nothing changes", async () => {
    const acct = await createAccount();
    const before = await adminState(acct);
    const attempts: [string, string, unknown][] = [
      ["PATCH", `/v1/users/${acct.adminId}`, { status: "disabled" }],
      ["DELETE", `/v1/users/${acct.adminId}`, undefined],
      ["PUT", `/v1/users/${acct.adminId}/groups`, { group_ids: [acct.membersId] }],
    ];
    for (const [method, path, body] of attempts)
      expectProblem(await call(method, path, { ...as(acct), body }), 409, "last_administrator");
    expect(await adminState(acct)).toEqual(before);
    expect((await call("GET", "/v1/me", as(acct))).status).toBe(200);
    // Keeping Administrators while adding another group is fine.
    const ok = await call("PUT", `/v1/users/${acct.adminId}/groups`, {
      ...as(acct),
      body: { group_ids: [acct.administratorsId, acct.membersId] },
    });
    expect(ok.status).toBe(200);
  });

  it("does not count a disabled administrator", async () => {
    const acct = await createAccount();
    const other = await addAdmin(acct);
    expect(
      (await call("PATCH", `/v1/users/${other.id}`, { ...as(acct), body: { status: "disabled" } }))
        .status,
    ).toBe(200);
    expectProblem(
      await call("PATCH", `/v1/users/${acct.adminId}`, {
        ...as(acct),
        body: { status: "disabled" },
      }),
      409,
      "last_administrator",
    );
    expectProblem(
      await call("DELETE", `/v1/users/${acct.adminId}`, as(acct)),
      409,
      "last_administrator",
    );
  });

  it("lets one of two administrators go, then protects the other", async () => {
    const acct = await createAccount();
    const other = await addAdmin(acct);
    const demoted = await call("PUT", `/v1/users/${other.id}/groups`, {
      ...as(acct),
      body: { group_ids: [acct.membersId] },
    });
    expect(demoted.status).toBe(200);
    expectProblem(
      await call("PUT", `/v1/users/${acct.adminId}/groups`, {
        ...as(acct),
        body: { group_ids: [acct.membersId] },
      }),
      409,
      "last_administrator",
    );

    expect(
      (
        await call("PUT", `/v1/users/${other.id}/groups`, {
          ...as(acct),
          body: { group_ids: [acct.administratorsId] },
        })
      ).status,
    ).toBe(200);
    expect((await call("DELETE", `/v1/users/${acct.adminId}`, as(acct))).status).toBe(204);
    expectProblem(
      await call("PATCH", `/v1/users/${other.id}`, { ...as(other), body: { status: "disabled" } }),
      409,
      "last_administrator",
    );
  });

  it("two administrators removing each other at once never both succeed", async () => {
    const operations: [string, (id: string, acct: TestAccount) => [string, string, unknown]][] = [
      ["disable", (id) => ["PATCH", `/v1/users/${id}`, { status: "disabled" }]],
      ["delete", (id) => ["DELETE", `/v1/users/${id}`, undefined]],
      ["demote", (id, acct) => ["PUT", `/v1/users/${id}/groups`, { group_ids: [acct.membersId] }]],
    ];
    for (let round = 0; round < 4; round++) {
      for (const [name, op] of operations) {
        const acct = await createAccount();
        const other = await addAdmin(acct);
        const send = (actor: { token: string }, target: string) => {
          const [method, path, body] = op(target, acct);
          return call(method, path, { ...as(actor), body });
        };
        const results = await Promise.all([send(acct, other.id), send(other, acct.adminId)]);
        const ok = results.filter((r) => r.status < 300);
        expect(ok.length, `${name}: ${results.map((r) => r.status)}`).toBe(1);
        for (const r of results.filter((r) => r.status >= 300))
          expect(["last_administrator", "unauthorized", "forbidden"]).toContain(r.body.code);
        const active = await count(
          `SELECT count(*) AS n FROM group_memberships m JOIN users u ON u.id = m.user_id
           WHERE m.group_id = ? AND u.status = 'active'`,
          acct.administratorsId,
        );
        expect(active, name).toBe(1);
      }
    }
  });
});

describe("activity", () => {
  it("every change records exactly one event with actor, subject, ip and user agent", async () => {
    const acct = await createAccount();
    const group = await createGroup(acct, [{ permission: "devices:read" }]);
    const created = await call("POST", "/v1/users", { ...as(acct), body: userBody() });
    const id = created.body.id as string;
    const steps: [string, string, unknown][] = [
      ["PATCH", `/v1/users/${id}`, { last_name: "Byron" }],
      ["PATCH", `/v1/users/${id}`, { status: "disabled" }],
      ["PATCH", `/v1/users/${id}`, { status: "active" }],
      ["PUT", `/v1/users/${id}/groups`, { group_ids: [group] }],
      ["DELETE", `/v1/users/${id}`, undefined],
    ];
    for (const [method, path, body] of steps)
      expect((await call(method, path, { ...as(acct), body })).status).toBeLessThan(300);

    const events = await rows(
      "SELECT * FROM activity_events WHERE subject_id = ? ORDER BY rowid",
      id,
    );
    expect(events.map((e) => e.type)).toEqual([
      "user.created",
      "user.updated",
      "user.disabled",
      "user.enabled",
      "user.groups_changed",
      "user.deleted",
    ]);
    for (const e of events) {
      expect(e).toMatchObject({
        account_id: acct.accountId,
        actor_type: "user",
        actor_id: acct.adminId,
        subject_type: "user",
        subject_id: id,
        ip: IP,
        user_agent: UA,
      });
      expect(typeof e.occurred_at).toBe("number");
    }
    expect(events[1]!.metadata).toContain("Byron");
  });
});

describe("Members is everyone's group", () => {
  it("PUT /v1/users/:id/groups keeps Members whatever the body says", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const u = await createUser(acct);
    const res = await call("PUT", `/v1/users/${u.id}/groups`, {
      ...as(acct),
      body: { group_ids: [ops] },
    });
    expect(res.status).toBe(200);
    expect(res.body.group_ids).toEqual([ops, acct.membersId].sort());
    expect(await memberships(u.id)).toEqual([ops, acct.membersId].sort());
    const [event] = await rows(
      "SELECT metadata FROM activity_events WHERE subject_id = ? AND type = 'user.groups_changed'",
      u.id,
    );
    expect(JSON.parse(event!.metadata).to.sort()).toEqual([ops, acct.membersId].sort());
  });

  it("manual creation always includes Members, even when the body names other groups", async () => {
    const acct = await createAccount();
    const ops = await createGroup(acct, [{ permission: "devices:read" }]);
    const res = await call("POST", "/v1/users", {
      ...as(acct),
      body: userBody({ group_ids: [ops] }),
    });
    expect(res.status).toBe(201);
    expect(res.body.group_ids).toEqual([ops, acct.membersId].sort());
    expect(await memberships(res.body.id)).toEqual([ops, acct.membersId].sort());
  });
});

import { describe, expect, it } from "vitest";
import {
  call,
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

const PLANS = {
  free: [3, 5],
  team: [10, 50],
  business: [50, 500],
  enterprise: [1000, 10000],
} as const;
type Plan = keyof typeof PLANS;

const accountRow = async (id: string) =>
  (
    await rows<{
      plan_id: string;
      user_limit: number | null;
      device_limit: number | null;
      reseller_id: string | null;
    }>("SELECT plan_id, user_limit, device_limit, reseller_id FROM accounts WHERE id = ?", id)
  )[0];
const events = (accountId: string, type: string) =>
  rows<{ actor_type: string; actor_id: string | null; subject_id: string; metadata: string }>(
    "SELECT actor_type, actor_id, subject_id, metadata FROM activity_events WHERE account_id = ? AND type = ? ORDER BY rowid",
    accountId,
    type,
  );
const eventCount = async (accountId: string) =>
  Number(
    (
      await rows<{ n: number }>(
        "SELECT count(*) AS n FROM activity_events WHERE account_id = ?",
        accountId,
      )
    )[0]!.n,
  );

const limitsOf = (acct: { token: string }) =>
  call("GET", "/v1/account/limits", { token: acct.token });
const platformPatch = (id: string, body: unknown, token = PLATFORM_TOKEN) =>
  call("PATCH", `/v1/platform/accounts/${id}`, { token, body });
const addUser = async (acct: TestAccount) => (await createUser(acct)).id;
const invite = async (acct: { token: string }) => {
  const res = await call("POST", "/v1/invitations", {
    token: acct.token,
    body: { email: uniqueEmail("invitee") },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
};
async function addDevices(acct: { token: string }, n: number) {
  const org = await call("POST", "/v1/device-organizations", {
    token: acct.token,
    body: { name: `Org ${uniqueEmail("o")}` },
  });
  expect(org.status).toBe(201);
  for (let i = 0; i < n; i++) {
    const res = await call("POST", "/v1/devices", {
      token: acct.token,
      body: { name: `Screen ${i}`, device_organization_id: org.body.id },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
}

/** The figures as the API shapes them, for an account whose only use is given. */
function expected(
  plan: Plan,
  use: {
    active?: number;
    pending?: number;
    devices?: number;
    userLimit?: number;
    deviceLimit?: number;
  } = {},
) {
  const users = use.userLimit ?? PLANS[plan][0];
  const devices = use.deviceLimit ?? PLANS[plan][1];
  const active = use.active ?? 1;
  const pending = use.pending ?? 0;
  const used = use.devices ?? 0;
  return {
    plan,
    users: {
      limit: users,
      active,
      pending_invitations: pending,
      available: users - active - pending,
    },
    devices: { limit: devices, used, available: devices - used },
  };
}

async function newReseller(name = `Reseller ${uniqueEmail("r")}`) {
  const res = await call("POST", "/v1/platform/resellers", {
    token: PLATFORM_TOKEN,
    body: { name },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; name: string; token: string };
}

async function resoldAccount(resellerId: string, plan: Plan = "team") {
  const adminEmail = uniqueEmail("radmin");
  const res = await call("POST", "/v1/platform/accounts", {
    token: PLATFORM_TOKEN,
    body: {
      name: "Resold Signage",
      plan,
      admin_email: adminEmail,
      admin_password: PASSWORD,
      reseller_id: resellerId,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return {
    accountId: res.body.account.id as string,
    token: (await login(adminEmail)).access_token,
  };
}

describe("GET /v1/account/limits", () => {
  it.each(Object.keys(PLANS) as Plan[])(
    "shows the %s plan's numbers and what is used",
    async (plan) => {
      const acct = await createAccount(plan);
      const res = await limitsOf(acct);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ...expected(plan), managed_by: { type: "direct" } });
      expect(res.body.users.override ?? null).toBeNull();
    },
  );

  it("counts active users, pending invitations and devices, and not disabled users", async () => {
    const acct = await createAccount("team");
    const disabled = await addUser(acct);
    await addUser(acct);
    await invite(acct);
    await addDevices(acct, 2);
    expect(
      (
        await call("PATCH", `/v1/users/${disabled}`, {
          token: acct.token,
          body: { status: "disabled" },
        })
      ).status,
    ).toBe(200);
    expect((await limitsOf(acct)).body).toMatchObject(
      expected("team", { active: 2, pending: 1, devices: 2 }),
    );
  });

  it("an override replaces the plan's number; null clears it", async () => {
    const acct = await createAccount("free");
    expect((await platformPatch(acct.accountId, { user_limit: 7, device_limit: 9 })).status).toBe(
      200,
    );
    const res = await limitsOf(acct);
    expect(res.body).toMatchObject(expected("free", { userLimit: 7, deviceLimit: 9 }));
    expect(res.body.users.override).toBe(7);
    expect(res.body.devices.override).toBe(9);
    expect((await platformPatch(acct.accountId, { user_limit: null })).status).toBe(200);
    expect((await limitsOf(acct)).body).toMatchObject(expected("free", { deviceLimit: 9 }));
  });

  it("shows who manages a reseller's account", async () => {
    const reseller = await newReseller();
    const acct = await resoldAccount(reseller.id, "business");
    const res = await limitsOf(acct);
    expect(res.body).toMatchObject({
      ...expected("business"),
      managed_by: { type: "reseller", name: reseller.name },
    });
  });

  it("requires billing:read", async () => {
    const acct = await createAccount("team");
    const without = await createUser(acct, {
      groupIds: [await createGroup(acct, [{ permission: "users:read" }])],
    });
    const withIt = await createUser(acct, {
      groupIds: [await createGroup(acct, [{ permission: "billing:read" }])],
    });
    expectProblem(await limitsOf(without), 403, "forbidden");
    expect((await limitsOf(withIt)).status).toBe(200);
    expectProblem(await call("GET", "/v1/account/limits"), 401, "unauthorized");
  });
});

describe("POST /v1/account/plan", () => {
  const changePlan = (acct: { token: string }, plan: string) =>
    call("POST", "/v1/account/plan", { token: acct.token, body: { plan } });

  it("upgrades at once and records account.plan_changed", async () => {
    const acct = await createAccount("free");
    const res = await changePlan(acct, "business");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject(expected("business"));
    expect(await accountRow(acct.accountId)).toMatchObject({
      plan_id: "business",
      user_limit: null,
      device_limit: null,
    });
    expect((await limitsOf(acct)).body).toMatchObject(expected("business"));
    expect((await call("GET", "/v1/account", { token: acct.token })).body.plan).toBe("business");
    const recorded = await events(acct.accountId, "account.plan_changed");
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      actor_type: "user",
      actor_id: acct.adminId,
      subject_id: acct.accountId,
    });
    expect(JSON.parse(recorded[0]!.metadata)).toMatchObject({ from: "free", to: "business" });
  });

  it("downgrades when the use fits; refuses one below the current use with 409 limit_below_usage, changing nothing", async () => {
    const acct = await createAccount("business");
    for (let i = 0; i < 2; i++) await addUser(acct);
    await invite(acct); // 4 seats: more than free's 3
    expect((await changePlan(acct, "team")).status).toBe(200);
    const before = await eventCount(acct.accountId);
    const refused = await changePlan(acct, "free");
    expectProblem(refused, 409, "limit_below_usage");
    expect(refused.body.detail).toContain("4 seats");
    expect(await accountRow(acct.accountId)).toMatchObject({ plan_id: "team" });
    expect(await eventCount(acct.accountId)).toBe(before);

    const devicesOnly = await createAccount("team");
    await addDevices(devicesOnly, 6); // more than free's 5
    expectProblem(await changePlan(devicesOnly, "free"), 409, "limit_below_usage");
    expect(await accountRow(devicesOnly.accountId)).toMatchObject({ plan_id: "team" });
    expect(await events(devicesOnly.accountId, "account.plan_changed")).toEqual([]);
  });

  it("a reseller-managed account gets 403 managed_by_reseller, naming the reseller", async () => {
    const reseller = await newReseller();
    const acct = await resoldAccount(reseller.id, "team");
    const res = await changePlan(acct, "enterprise");
    expectProblem(res, 403, "managed_by_reseller");
    expect(res.body.detail).toContain(reseller.name);
    expect(await accountRow(acct.accountId)).toMatchObject({
      plan_id: "team",
      reseller_id: reseller.id,
    });
    expect(await events(acct.accountId, "account.plan_changed")).toEqual([]);
  });

  it("requires billing:write and a known plan", async () => {
    const acct = await createAccount("free");
    const reader = await createUser(acct, {
      groupIds: [await createGroup(acct, [{ permission: "billing:read" }])],
    });
    expectProblem(await changePlan(reader, "enterprise"), 403, "forbidden");
    expectProblem(await changePlan(acct, "platinum"), 422, "validation_failed");
    expect(await accountRow(acct.accountId)).toMatchObject({ plan_id: "free" });
    const writer = await createUser(acct, {
      groupIds: [await createGroup(acct, [{ permission: "billing:write" }])],
    });
    expect((await changePlan(writer, "team")).status).toBe(200);
    expect(await accountRow(acct.accountId)).toMatchObject({ plan_id: "team" });
  });
});

describe("PATCH /v1/platform/accounts/:id", () => {
  it("sets plan and overrides, records the changes, and null clears an override", async () => {
    const acct = await createAccount("free");
    const res = await platformPatch(acct.accountId, {
      plan: "team",
      user_limit: 25,
      device_limit: 80,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      ...expected("team", { userLimit: 25, deviceLimit: 80 }),
      managed_by: { type: "direct" },
    });
    expect(await accountRow(acct.accountId)).toMatchObject({
      plan_id: "team",
      user_limit: 25,
      device_limit: 80,
    });

    const planChanged = await events(acct.accountId, "account.plan_changed");
    expect(planChanged).toHaveLength(1);
    expect(planChanged[0]).toMatchObject({ actor_type: "platform", actor_id: null });
    expect(JSON.parse(planChanged[0]!.metadata)).toMatchObject({ from: "free", to: "team" });
    const capacityChanged = await events(acct.accountId, "account.capacity_changed");
    expect(capacityChanged).toHaveLength(1);
    expect(JSON.parse(capacityChanged[0]!.metadata)).toMatchObject({
      user_limit: { from: null, to: 25 },
      device_limit: { from: null, to: 80 },
    });

    const cleared = await platformPatch(acct.accountId, { device_limit: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject(expected("team", { userLimit: 25 }));
    expect(await accountRow(acct.accountId)).toMatchObject({
      plan_id: "team",
      user_limit: 25,
      device_limit: null,
    });
    expect(await events(acct.accountId, "account.capacity_changed")).toHaveLength(2);
    expect(await events(acct.accountId, "account.plan_changed")).toHaveLength(1);
  });

  it("refuses a limit below current use (pending invitations and devices count) with 409, changing nothing", async () => {
    const acct = await createAccount("team");
    await addUser(acct);
    await invite(acct); // 3 seats
    await addDevices(acct, 2);
    const before = await eventCount(acct.accountId);
    for (const body of [
      { user_limit: 2 },
      { device_limit: 1 },
      { plan: "free", device_limit: 0 },
    ]) {
      expectProblem(await platformPatch(acct.accountId, body), 409, "limit_below_usage");
    }
    expect(await accountRow(acct.accountId)).toMatchObject({
      plan_id: "team",
      user_limit: null,
      device_limit: null,
    });
    expect(await eventCount(acct.accountId)).toBe(before);
    // Exactly at the use is allowed.
    expect(
      (await platformPatch(acct.accountId, { user_limit: 3, device_limit: 2 })).body,
    ).toMatchObject(
      expected("team", { active: 2, pending: 1, devices: 2, userLimit: 3, deviceLimit: 2 }),
    );
  });

  it("concurrent changes of different fields all stick (no lost update)", async () => {
    const reseller = await newReseller();
    for (let round = 0; round < 3; round++) {
      const acct = await resoldAccount(reseller.id, "free");
      const answers = await Promise.all([
        platformPatch(acct.accountId, { user_limit: 20 }),
        platformPatch(acct.accountId, { device_limit: 80 }),
        call("PATCH", `/v1/reseller/accounts/${acct.accountId}`, {
          token: reseller.token,
          body: { plan: "business" },
        }),
      ]);
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await accountRow(acct.accountId)).toMatchObject({
        plan_id: "business",
        user_limit: 20,
        device_limit: 80,
      });
      expect((await limitsOf(acct)).body).toMatchObject(
        expected("business", { userLimit: 20, deviceLimit: 80 }),
      );
    }
  });

  it("answers 404 for an unknown account, 401 without the platform token, 422 for an empty change", async () => {
    const acct = await createAccount("free");
    expectProblem(
      await platformPatch("acct_01h2xcejqtf2nbrexx3vqjhp41", { user_limit: 5 }),
      404,
      "not_found",
    );
    expectProblem(
      await platformPatch(acct.accountId, { user_limit: 500 }, "wrong-token"),
      401,
      "unauthorized",
    );
    expectProblem(
      await platformPatch(acct.accountId, { user_limit: 500 }, acct.token),
      401,
      "unauthorized",
    );
    expectProblem(
      await call("PATCH", `/v1/platform/accounts/${acct.accountId}`, { body: { user_limit: 500 } }),
      401,
      "unauthorized",
    );
    expectProblem(await platformPatch(acct.accountId, {}), 422, "validation_failed");
    expectProblem(
      await platformPatch(acct.accountId, { user_limit: -1 }),
      422,
      "validation_failed",
    );
    expect(await accountRow(acct.accountId)).toMatchObject({
      plan_id: "free",
      user_limit: null,
      device_limit: null,
    });
  });
});

describe("resellers", () => {
  it("POST /v1/platform/resellers returns the token once and keeps only its hash", async () => {
    const reseller = await newReseller("Contoso Displays");
    expect(reseller).toMatchObject({
      name: "Contoso Displays",
      id: expect.stringMatching(/^rsl_/),
      token: expect.any(String),
    });
    const [stored] = await rows<{ name: string; token_hash: string }>(
      "SELECT name, token_hash FROM resellers WHERE id = ?",
      reseller.id,
    );
    expect(stored!.name).toBe("Contoso Displays");
    const secret = reseller.token.slice(reseller.token.indexOf(".") + 1);
    expect(secret.length).toBeGreaterThan(20);
    expect(stored!.token_hash).not.toContain(secret);
    expect(
      JSON.stringify(await rows("SELECT * FROM resellers WHERE id = ?", reseller.id)),
    ).not.toContain(secret);
    expectProblem(
      await call("POST", "/v1/platform/resellers", {
        token: reseller.token,
        body: { name: "Self-made" },
      }),
      401,
      "unauthorized",
    );
  });

  it("GET /v1/reseller/accounts lists only that reseller's accounts, with their limits", async () => {
    const a = await newReseller();
    const b = await newReseller();
    const a1 = await resoldAccount(a.id, "team");
    const a2 = await resoldAccount(a.id, "free");
    const b1 = await resoldAccount(b.id, "business");
    await createAccount("team"); // a direct account
    await invite(a1);

    const res = await call("GET", "/v1/reseller/accounts", { token: a.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    const byId = Object.fromEntries((res.body.data as any[]).map((acct) => [acct.id, acct]));
    expect(Object.keys(byId).sort()).toEqual([a1.accountId, a2.accountId].sort());
    expect(byId[a1.accountId].limits).toMatchObject({
      ...expected("team", { pending: 1 }),
      managed_by: { type: "reseller", name: a.name },
    });
    expect(byId[a2.accountId].limits).toMatchObject(expected("free"));

    const other = await call("GET", "/v1/reseller/accounts", { token: b.token });
    expect((other.body.data as any[]).map((acct) => acct.id)).toEqual([b1.accountId]);

    const first = await call("GET", "/v1/reseller/accounts?limit=1", { token: a.token });
    expect(first.body.data).toHaveLength(1);
    expect(first.body.next_cursor).not.toBeNull();
    const second = await call(
      "GET",
      `/v1/reseller/accounts?limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`,
      { token: a.token },
    );
    expect([first.body.data[0].id, second.body.data[0].id].sort()).toEqual(
      [a1.accountId, a2.accountId].sort(),
    );
    expect(second.body.next_cursor).toBeNull();
  });

  it("PATCH /v1/reseller/accounts/:id changes its own accounts only; others answer 404 and stay unchanged", async () => {
    const a = await newReseller();
    const b = await newReseller();
    const own = await resoldAccount(a.id, "free");
    const theirs = await resoldAccount(b.id, "free");
    const direct = await createAccount("free");
    const patch = (id: string, body: unknown, token = a.token) =>
      call("PATCH", `/v1/reseller/accounts/${id}`, { token, body });

    const res = await patch(own.accountId, { plan: "team", user_limit: 12 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject(expected("team", { userLimit: 12 }));
    expect(await accountRow(own.accountId)).toMatchObject({
      plan_id: "team",
      user_limit: 12,
      device_limit: null,
      reseller_id: a.id,
    });
    for (const type of ["account.plan_changed", "account.capacity_changed"]) {
      const recorded = await events(own.accountId, type);
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({ actor_type: "reseller", actor_id: a.id });
    }

    for (const target of [theirs.accountId, direct.accountId, "acct_01h2xcejqtf2nbrexx3vqjhp41"]) {
      const before = await eventCount(target);
      expectProblem(await patch(target, { plan: "enterprise", user_limit: 999 }), 404, "not_found");
      if (target !== "acct_01h2xcejqtf2nbrexx3vqjhp41") {
        expect(await accountRow(target)).toMatchObject({
          plan_id: "free",
          user_limit: null,
          device_limit: null,
        });
        expect(await eventCount(target)).toBe(before);
      }
    }

    // Below use is refused for the reseller as for support.
    await invite(own);
    expectProblem(await patch(own.accountId, { user_limit: 1 }), 409, "limit_below_usage");
    expect(await accountRow(own.accountId)).toMatchObject({ user_limit: 12 });
    // Its own admins still cannot change the plan themselves.
    expectProblem(
      await call("POST", "/v1/account/plan", { token: own.token, body: { plan: "enterprise" } }),
      403,
      "managed_by_reseller",
    );
  });

  it("each kind of token works only where it belongs", async () => {
    const reseller = await newReseller();
    const acct = await resoldAccount(reseller.id, "team");
    const direct = await createAccount("team");
    const refused = [
      // a reseller token outside /v1/reseller/*
      call("POST", "/v1/platform/accounts", {
        token: reseller.token,
        body: {
          name: "Sneaky",
          plan: "free",
          admin_email: uniqueEmail(),
          reseller_id: reseller.id,
        },
      }),
      call("PATCH", `/v1/platform/accounts/${acct.accountId}`, {
        token: reseller.token,
        body: { user_limit: 500 },
      }),
      call("GET", "/v1/users", { token: reseller.token }),
      call("POST", "/v1/users", {
        token: reseller.token,
        body: { email: uniqueEmail(), first_name: "R", last_name: "S", password: PASSWORD },
      }),
      call("GET", "/v1/account/limits", { token: reseller.token }),
      // user and platform tokens on /v1/reseller/*
      call("GET", "/v1/reseller/accounts", { token: acct.token }),
      call("GET", "/v1/reseller/accounts", { token: direct.token }),
      call("GET", "/v1/reseller/accounts", { token: PLATFORM_TOKEN }),
      call("PATCH", `/v1/reseller/accounts/${acct.accountId}`, {
        token: PLATFORM_TOKEN,
        body: { user_limit: 500 },
      }),
      call("PATCH", `/v1/reseller/accounts/${acct.accountId}`, {
        token: acct.token,
        body: { user_limit: 500 },
      }),
      call("GET", "/v1/reseller/accounts", { token: `${reseller.id}.not-the-secret` }),
      call("GET", "/v1/reseller/accounts"),
    ];
    for (const res of await Promise.all(refused)) expectProblem(res, 401, "unauthorized");
    expect(await accountRow(acct.accountId)).toMatchObject({ plan_id: "team", user_limit: null });
    expect(await rows("SELECT id FROM accounts WHERE name = 'Sneaky'")).toEqual([]);
    expect((await call("GET", "/v1/reseller/accounts", { token: reseller.token })).status).toBe(
      200,
    );
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  count,
  createAccount,
  expectProblem,
  expectUsageKept,
  login,
  PASSWORD,
  PLATFORM_TOKEN,
  type Reply,
  rows,
  runCron,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

afterEach(() => {
  clock.offsetMs = 0;
});

const RACERS = 50;
const FREE = 5;
const MINUTE = 60_000;

/** Seats as the service counts them: active users + pending, unexpired invitations. */
const seatsUsed = (accountId: string) =>
  count(
    `SELECT (SELECT count(*) FROM users WHERE account_id = ?1 AND status = 'active')
          + (SELECT count(*) FROM invitations WHERE account_id = ?1 AND status = 'pending' AND expires_at > ?2) AS n`,
    accountId,
    clock.now(),
  );
const limitEvents = (accountId: string, kind: "users" | "devices") =>
  rows<{ actor_type: string; actor_id: string; subject_id: string; metadata: string }>(
    "SELECT actor_type, actor_id, subject_id, metadata FROM activity_events WHERE account_id = ? AND type = 'capacity.limit_reached' AND json_extract(metadata, '$.limit') = ?",
    accountId,
    kind,
  );

const userBody = (label = "seat") => ({
  email: uniqueEmail(label),
  first_name: "Seat",
  last_name: "Holder",
  password: PASSWORD,
});
const addUser = (acct: { token: string }, label?: string) =>
  call("POST", "/v1/users", { token: acct.token, body: userBody(label) });
const invite = (acct: { token: string }, email = uniqueEmail("invitee")) =>
  call("POST", "/v1/invitations", { token: acct.token, body: { email } });

async function created(res: Promise<Reply>): Promise<string> {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

async function setCapacity(accountId: string, body: Record<string, unknown>) {
  const res = await call("PATCH", `/v1/platform/accounts/${accountId}`, {
    token: PLATFORM_TOKEN,
    body,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** An account that a new reseller manages, with a logged-in administrator. */
async function resellerAccount(plan: string) {
  const reseller = await call("POST", "/v1/platform/resellers", {
    token: PLATFORM_TOKEN,
    body: { name: `Northwind Resale ${uniqueEmail("r")}` },
  });
  expect(reseller.status).toBe(201);
  const adminEmail = uniqueEmail("radmin");
  const res = await call("POST", "/v1/platform/accounts", {
    token: PLATFORM_TOKEN,
    body: {
      name: "Resold Signage",
      plan,
      admin_email: adminEmail,
      admin_password: PASSWORD,
      reseller_id: reseller.body.id,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const session = await login(adminEmail);
  return {
    accountId: res.body.account.id as string,
    adminEmail,
    token: session.access_token,
    resellerName: reseller.body.name as string,
  };
}

interface Setup {
  accountId: string;
  token: string;
  limit: number;
  plan: string;
  reseller: string | null;
}

/** Checks one refusal: the limit, the plan and whom to ask, in `detail` and as fields. */
function expectRefusal(res: Reply, kind: "users" | "devices", s: Setup) {
  expectProblem(res, 409, "capacity_exceeded");
  expect(res.body).toMatchObject({ limit: kind, limit_value: s.limit, plan: s.plan });
  expect(res.body.detail).toContain(String(s.limit));
  expect(res.body.detail).toContain(s.plan);
  if (s.reseller) {
    expect(res.body.contact).toEqual({ type: "reseller", name: s.reseller });
    expect(res.body.detail).toContain(s.reseller);
  } else {
    expect(res.body.contact).toEqual({ type: "support" });
    expect(res.body.detail).toMatch(/support/i);
  }
}

/** Fires every request before awaiting any, so all of them are in flight at once. */
async function race<T>(n: number, start: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => start(i)));
}

describe("seats under concurrency: exactly the free seats are handed out", () => {
  const setups: [string, () => Promise<Setup>][] = [
    [
      "team plan (10), five seats held by users and invitations",
      async () => {
        const acct = await createAccount("team");
        for (let i = 0; i < 2; i++) await created(addUser(acct));
        for (let i = 0; i < 2; i++) await created(invite(acct));
        return {
          accountId: acct.accountId,
          token: acct.token,
          limit: 10,
          plan: "team",
          reseller: null,
        };
      },
    ],
    [
      "business plan with a user_limit override of 6",
      async () => {
        const acct = await createAccount("business");
        await setCapacity(acct.accountId, { user_limit: 6 });
        return {
          accountId: acct.accountId,
          token: acct.token,
          limit: 6,
          plan: "business",
          reseller: null,
        };
      },
    ],
    [
      "reseller-managed free account raised to 8 users",
      async () => {
        const acct = await resellerAccount("free");
        await setCapacity(acct.accountId, { user_limit: 8 });
        await created(addUser(acct));
        await created(invite(acct));
        return {
          accountId: acct.accountId,
          token: acct.token,
          limit: 8,
          plan: "free",
          reseller: acct.resellerName,
        };
      },
    ],
  ];

  it.each(setups)(
    `%s: ${RACERS} mixed creations and invitations at once, exactly ${FREE} succeed`,
    async (_name, setup) => {
      const s = await setup();
      expect(await seatsUsed(s.accountId)).toBe(s.limit - FREE);
      const startedAt = Date.now();
      const outcomes = await race(RACERS, (i) => {
        const email = uniqueEmail(i % 2 === 0 ? "racer" : "raceinvite");
        const res =
          i % 2 === 0
            ? call("POST", "/v1/users", { token: s.token, body: { ...userBody(), email } })
            : invite(s, email);
        return res.then((r) => ({
          kind: i % 2 === 0 ? ("user" as const) : ("invitation" as const),
          email,
          res: r,
        }));
      });
      const elapsed = Date.now() - startedAt;

      const won = outcomes.filter((o) => o.res.status === 201);
      const refused = outcomes.filter((o) => o.res.status === 409);
      expect(won.length).toBe(FREE);
      expect(refused.length).toBe(RACERS - FREE);
      for (const o of refused) expectRefusal(o.res, "users", s);

      // The stored rows agree: the limit is reached exactly, and by the winners alone.
      expect(await seatsUsed(s.accountId)).toBe(s.limit);
      await expectUsageKept(s.accountId);
      for (const o of won) {
        const table = o.kind === "user" ? "users" : "invitations";
        const status = o.kind === "user" ? "active" : "pending";
        expect(
          await count(
            `SELECT count(*) AS n FROM ${table} WHERE id = ? AND account_id = ? AND status = ?`,
            o.res.body.id,
            s.accountId,
            status,
          ),
        ).toBe(1);
      }
      // Both kinds were in the race, and no refused request left a row behind.
      expect(new Set(outcomes.map((o) => o.kind)).size).toBe(2);
      const refusedEmails = refused.map((o) => o.email);
      const marks = refusedEmails.map(() => "?").join(",");
      expect(
        await count(`SELECT count(*) AS n FROM users WHERE email IN (${marks})`, ...refusedEmails),
      ).toBe(0);
      expect(
        await count(
          `SELECT count(*) AS n FROM invitations WHERE email IN (${marks})`,
          ...refusedEmails,
        ),
      ).toBe(0);

      const limits = await call("GET", "/v1/account/limits", { token: s.token });
      expect(limits.body.users).toMatchObject({ limit: s.limit, available: 0 });
      expect(limits.body.users.active + limits.body.users.pending_invitations).toBe(s.limit);

      // Recorded, but throttled: at most one per minute per limit, not one per refusal.
      const events = await limitEvents(s.accountId, "users");
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.length).toBeLessThanOrEqual(1 + Math.floor(elapsed / MINUTE));
      expect(events[0]).toMatchObject({ actor_type: "user", subject_id: s.accountId });
    },
    120_000,
  );
});

describe("seat reservations in the account object", () => {
  it("many accounts at once: each hands out exactly its free seats, none waits on another", async () => {
    const accounts = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const acct = await createAccount("business");
        await setCapacity(acct.accountId, { user_limit: 1 + FREE });
        return acct;
      }),
    );
    const outcomes = await race(accounts.length * 12, (i) => {
      const acct = accounts[i % accounts.length]!;
      return invite(acct).then((res) => ({ accountId: acct.accountId, res }));
    });
    for (const acct of accounts) {
      const own = outcomes.filter((o) => o.accountId === acct.accountId);
      expect(own.filter((o) => o.res.status === 201)).toHaveLength(FREE);
      for (const o of own.filter((o) => o.res.status !== 201)) {
        expectProblem(o.res, 409, "capacity_exceeded");
      }
      expect(await seatsUsed(acct.accountId)).toBe(1 + FREE);
    }
  });

  it("writes that share a batch still get their own answers: a duplicate fails alone, the rest commit", async () => {
    // Concurrent invitations to one account go to D1 together (group commit); a batch is all
    // or nothing, so a write refused inside it must not take the others down with it.
    const acct = await createAccount("business");
    await setCapacity(acct.accountId, { user_limit: 1 + FREE });
    const emails = Array.from({ length: 8 }, () => uniqueEmail("grouped"));
    // Every email twice, and more invitations than free seats.
    const outcomes = await race(16, (i) => invite(acct, emails[i % emails.length]));
    const ok = outcomes.filter((r) => r.status === 201);
    expect(ok).toHaveLength(FREE);
    expect(new Set(ok.map((r) => r.body.email)).size).toBe(FREE);
    for (const r of outcomes.filter((r) => r.status !== 201)) {
      expect([409]).toContain(r.status);
      expect(["capacity_exceeded", "invitation_pending"]).toContain(r.body.code);
    }
    expect(await seatsUsed(acct.accountId)).toBe(1 + FREE);
    const stored = await rows<{ email: string }>(
      "SELECT email FROM invitations WHERE account_id = ? AND status = 'pending'",
      acct.accountId,
    );
    expect(stored.map((r) => r.email).sort()).toEqual(ok.map((r) => r.body.email).sort());
  });

  it("a full account refuses a burst from one fresh count: no batch of its own per refusal", async () => {
    const acct = await createAccount("business");
    await setCapacity(acct.accountId, { user_limit: 2 });
    await created(invite(acct));
    const refused = await race(10, () => invite(acct));
    for (const res of refused) expectProblem(res, 409, "capacity_exceeded");
    // Authentication, then the shared read (one of them also records capacity.limit_reached).
    const trips = refused.map((r) => Number(r.headers.get("x-d1-round-trips")));
    expect(trips.every((n) => n === 2 || n === 3)).toBe(true);
    expect(trips.filter((n) => n === 3).length).toBeLessThanOrEqual(1);
  });

  it("sees seats freed behind its back before refusing", async () => {
    const acct = await createAccount("business");
    await setCapacity(acct.accountId, { user_limit: 2 });
    const id = await created(invite(acct));
    expectProblem(await invite(acct), 409, "capacity_exceeded");
    // Freed by a write the object never saw, as a sweep or another path could.
    await rows(
      "UPDATE invitations SET status = 'revoked', revoked_at = ? WHERE id = ?",
      Date.now(),
      id,
    );
    const again = await invite(acct);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(await seatsUsed(acct.accountId)).toBe(2);
    expectProblem(await invite(acct), 409, "capacity_exceeded");
  });

  it("a seat taken behind its back is still refused by the rule in the batch", async () => {
    const acct = await createAccount("business");
    await setCapacity(acct.accountId, { user_limit: 3 });
    await created(invite(acct)); // the object now counts 2 of 3
    await rows(
      `INSERT INTO invitations (id, account_id, email, group_ids, status, token_hash, expires_at, created_at)
       VALUES (?, ?, ?, '[]', 'pending', ?, ?, ?)`,
      `inv_behind_${crypto.randomUUID()}`,
      acct.accountId,
      uniqueEmail("behind"),
      `unsent:${crypto.randomUUID()}`,
      Date.now() + 7 * 24 * 60 * MINUTE,
      Date.now(),
    );
    expectProblem(await invite(acct), 409, "capacity_exceeded");
    expect(await seatsUsed(acct.accountId)).toBe(3);
  });
});

describe("limit changes race with seat-consuming writes", () => {
  it("lowering the limit mid-race is serialized with them: the final limit is reached exactly, never passed", async () => {
    for (let round = 0; round < 2; round++) {
      const acct = await createAccount("team"); // 10 seats, the admin holds one
      const outcomes = await race(30, (i) =>
        i === 8 + round * 4
          ? call("PATCH", `/v1/platform/accounts/${acct.accountId}`, {
              token: PLATFORM_TOKEN,
              body: { user_limit: 4 },
            })
          : invite(acct),
      );
      const patch = outcomes[8 + round * 4]!;
      const invites = outcomes.filter((r) => r !== patch);
      const [row] = await rows<{ user_limit: number | null }>(
        "SELECT user_limit FROM accounts WHERE id = ?",
        acct.accountId,
      );
      const limit = patch.status === 200 ? 4 : 10;
      if (patch.status === 200) expect(row!.user_limit).toBe(4);
      else {
        expectProblem(patch, 409, "limit_below_usage");
        expect(row!.user_limit).toBeNull();
      }
      expect(await seatsUsed(acct.accountId)).toBe(limit);
      expect(invites.filter((r) => r.status === 201).length).toBe(limit - 1);
      for (const r of invites.filter((o) => o.status !== 201))
        expectProblem(r, 409, "capacity_exceeded");
    }
  }, 60_000);
});

async function deviceOrganization(acct: { token: string }) {
  return created(
    call("POST", "/v1/device-organizations", {
      token: acct.token,
      body: { name: `Lobby ${uniqueEmail("org")}` },
    }),
  );
}
const provision = (acct: { token: string }, orgId: string, name = "Screen") =>
  call("POST", "/v1/devices", { token: acct.token, body: { name, device_organization_id: orgId } });

describe("device slots under concurrency", () => {
  const setups: [string, () => Promise<Setup & { orgId: string }>][] = [
    [
      "team plan with a device_limit override of 8, three slots used",
      async () => {
        const acct = await createAccount("team");
        await setCapacity(acct.accountId, { device_limit: 8 });
        const orgId = await deviceOrganization(acct);
        for (let i = 0; i < 3; i++) await created(provision(acct, orgId, `Prefilled ${i}`));
        return {
          accountId: acct.accountId,
          token: acct.token,
          limit: 8,
          plan: "team",
          reseller: null,
          orgId,
        };
      },
    ],
    [
      "free plan (5 devices), empty, managed by a reseller",
      async () => {
        const acct = await resellerAccount("free");
        const orgId = await deviceOrganization(acct);
        return {
          accountId: acct.accountId,
          token: acct.token,
          limit: 5,
          plan: "free",
          reseller: acct.resellerName,
          orgId,
        };
      },
    ],
  ];

  it.each(setups)(
    `%s: ${RACERS} provisions at once, exactly ${FREE} succeed`,
    async (_name, setup) => {
      const s = await setup();
      const devices = () =>
        count("SELECT count(*) AS n FROM devices WHERE account_id = ?", s.accountId);
      expect(await devices()).toBe(s.limit - FREE);
      const startedAt = Date.now();
      const outcomes = await race(RACERS, (i) => provision(s, s.orgId, `Racer ${i}`));
      const elapsed = Date.now() - startedAt;

      const won = outcomes.filter((r) => r.status === 201);
      expect(won.length).toBe(FREE);
      expect(outcomes.filter((r) => r.status === 409).length).toBe(RACERS - FREE);
      for (const r of outcomes.filter((o) => o.status !== 201)) expectRefusal(r, "devices", s);

      expect(await devices()).toBe(s.limit);
      const stored = await rows<{ id: string; name: string }>(
        "SELECT id, name FROM devices WHERE account_id = ? AND name LIKE 'Racer %' ORDER BY id",
        s.accountId,
      );
      expect(stored.map((d) => d.id)).toEqual(won.map((r) => r.body.id).sort());
      expect(
        await count(
          "SELECT count(*) AS n FROM activity_events WHERE account_id = ? AND type = 'device.added'",
          s.accountId,
        ),
      ).toBe(s.limit);
      const limits = await call("GET", "/v1/account/limits", { token: s.token });
      expect(limits.body.devices).toMatchObject({ limit: s.limit, used: s.limit, available: 0 });

      const events = await limitEvents(s.accountId, "devices");
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.length).toBeLessThanOrEqual(1 + Math.floor(elapsed / MINUTE));

      // Deleting a device frees its slot.
      expect(
        (await call("DELETE", `/v1/devices/${won[0]!.body.id}`, { token: s.token })).status,
      ).toBe(204);
      expect((await provision(s, s.orgId, "Replacement")).status).toBe(201);
      expectRefusal(await provision(s, s.orgId, "One too many"), "devices", s);
      expect(await devices()).toBe(s.limit);
      await expectUsageKept(s.accountId);
    },
    120_000,
  );
});

describe("capacity.limit_reached", () => {
  it("is recorded once per limit, not once per refusal, and seats and devices are throttled apart", async () => {
    const acct = await createAccount("free"); // 3 seats, 5 devices
    for (let i = 0; i < 2; i++) await created(addUser(acct));
    const orgId = await deviceOrganization(acct);
    for (let i = 0; i < 5; i++) await created(provision(acct, orgId));
    expect(await limitEvents(acct.accountId, "users")).toEqual([]);

    const startedAt = Date.now();
    for (let i = 0; i < 4; i++) expectProblem(await addUser(acct), 409, "capacity_exceeded");
    for (let i = 0; i < 4; i++) expectProblem(await invite(acct), 409, "capacity_exceeded");
    const seatEvents = await limitEvents(acct.accountId, "users");
    expect(await limitEvents(acct.accountId, "devices")).toEqual([]);
    for (let i = 0; i < 4; i++)
      expectProblem(await provision(acct, orgId), 409, "capacity_exceeded");
    const elapsed = Date.now() - startedAt;
    const deviceEvents = await limitEvents(acct.accountId, "devices");

    for (const events of [seatEvents, deviceEvents]) {
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.length).toBeLessThanOrEqual(1 + Math.floor(elapsed / MINUTE));
      expect(events[0]).toMatchObject({
        actor_type: "user",
        actor_id: acct.adminId,
        subject_id: acct.accountId,
      });
    }
  });
  it("is recorded again once a minute has passed, then throttled again", async () => {
    const acct = await createAccount("free");
    for (let i = 0; i < 2; i++) await created(addUser(acct));
    expectProblem(await addUser(acct), 409, "capacity_exceeded");
    const first = (await limitEvents(acct.accountId, "users")).length;
    expect(first).toBeGreaterThanOrEqual(1);

    clock.offsetMs = 2 * MINUTE;
    expectProblem(await invite(acct), 409, "capacity_exceeded");
    expect((await limitEvents(acct.accountId, "users")).length).toBe(first + 1);
    const at = await rows<{ occurred_at: number }>(
      "SELECT occurred_at FROM activity_events WHERE account_id = ? AND type = 'capacity.limit_reached' ORDER BY occurred_at DESC LIMIT 1",
      acct.accountId,
    );
    expect(at[0]!.occurred_at).toBeGreaterThanOrEqual(clock.now() - MINUTE);
    for (let i = 0; i < 3; i++) expectProblem(await addUser(acct), 409, "capacity_exceeded");
    expect((await limitEvents(acct.accountId, "users")).length).toBeLessThanOrEqual(
      first + 1 + Math.floor((clock.now() - at[0]!.occurred_at) / MINUTE),
    );
  });
});

describe("seats come back", () => {
  /** A free account (3 seats) with the admin and two users: full. */
  async function fullFreeAccount() {
    const acct = await createAccount("free");
    const a = await created(addUser(acct));
    const b = await created(addUser(acct));
    expectProblem(await addUser(acct), 409, "capacity_exceeded");
    expect(await seatsUsed(acct.accountId)).toBe(3);
    return { acct, a, b };
  }
  const status = async (id: string) =>
    (await rows<{ status: string }>("SELECT status FROM users WHERE id = ?", id))[0]?.status;
  const patchStatus = (acct: TestAccount, id: string, value: "active" | "disabled") =>
    call("PATCH", `/v1/users/${id}`, { token: acct.token, body: { status: value } });

  it("disabling a user frees a seat; enabling needs one (409 while full, nothing changes)", async () => {
    const { acct, a } = await fullFreeAccount();
    const disabled = await patchStatus(acct, a, "disabled");
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe("disabled");
    expect(await seatsUsed(acct.accountId)).toBe(2);

    const c = await created(addUser(acct));
    expect(await seatsUsed(acct.accountId)).toBe(3);
    const refused = await patchStatus(acct, a, "active");
    expectRefusal(refused, "users", {
      accountId: acct.accountId,
      token: acct.token,
      limit: 3,
      plan: "free",
      reseller: null,
    });
    expect(await status(a)).toBe("disabled");
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE subject_id = ? AND type = 'user.enabled'",
        a,
      ),
    ).toBe(0);

    expect((await patchStatus(acct, c, "disabled")).status).toBe(200);
    const enabled = await patchStatus(acct, a, "active");
    expect(enabled.status).toBe(200);
    expect(enabled.body.status).toBe("active");
    expect(await status(a)).toBe("active");
    expect(await seatsUsed(acct.accountId)).toBe(3);
  });

  it("concurrent re-enabling of disabled users never exceeds the seats", async () => {
    const acct = await createAccount("team"); // 10 seats
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push(await created(addUser(acct)));
    for (const id of ids) expect((await patchStatus(acct, id, "disabled")).status).toBe(200);
    for (let i = 0; i < 4; i++) await created(invite(acct)); // admin + 4 invitations: 5 free
    const outcomes = await Promise.all(ids.map((id) => patchStatus(acct, id, "active")));
    expect(outcomes.filter((r) => r.status === 200).length).toBe(FREE);
    for (const r of outcomes.filter((o) => o.status !== 200))
      expectProblem(r, 409, "capacity_exceeded");
    expect(await seatsUsed(acct.accountId)).toBe(10);
    await expectUsageKept(acct.accountId);
  }, 60_000);

  it("the kept usage counts follow every change that adds or frees a seat or a slot", async () => {
    const acct = await createAccount("team");
    await expectUsageKept(acct.accountId);
    const [a, b] = [await created(addUser(acct)), await created(addUser(acct))];
    expect((await patchStatus(acct, a, "disabled")).status).toBe(200);
    await expectUsageKept(acct.accountId);
    expect((await patchStatus(acct, a, "active")).status).toBe(200);
    expect((await call("DELETE", `/v1/users/${b}`, { token: acct.token })).status).toBe(204);
    await expectUsageKept(acct.accountId);

    const [kept, revoked] = [await created(invite(acct)), await created(invite(acct))];
    expect((await call("DELETE", `/v1/invitations/${revoked}`, { token: acct.token })).status).toBe(
      204,
    );
    await expectUsageKept(acct.accountId);
    // Past its expiry the sweep marks it expired; a resend makes it pending again.
    clock.offsetMs = 8 * 24 * 60 * MINUTE;
    await runCron();
    expect((await rows("SELECT status FROM invitations WHERE id = ?", kept))[0]!.status).toBe(
      "expired",
    );
    await expectUsageKept(acct.accountId);
    const admin = { token: (await login(acct.adminEmail)).access_token };
    const revived = await call("POST", `/v1/invitations/${kept}/resend`, admin);
    expect(revived.status, JSON.stringify(revived.body)).toBe(200);
    expect(revived.body.status).toBe("pending");
    await expectUsageKept(acct.accountId);

    const orgId = await deviceOrganization(admin);
    const device = await created(provision(admin, orgId));
    await created(provision(admin, orgId, "Second screen"));
    expect((await call("DELETE", `/v1/devices/${device}`, admin)).status).toBe(204);
    await expectUsageKept(acct.accountId);
    expect(
      (
        await rows(
          "SELECT active_users, pending_invitations, devices FROM account_usage WHERE account_id = ?",
          acct.accountId,
        )
      )[0],
    ).toEqual({ active_users: 2, pending_invitations: 1, devices: 1 });
  });

  it("deleting a user frees a seat", async () => {
    const { acct, b } = await fullFreeAccount();
    expect((await call("DELETE", `/v1/users/${b}`, { token: acct.token })).status).toBe(204);
    expect(await count("SELECT count(*) AS n FROM users WHERE id = ?", b)).toBe(0);
    expect(await seatsUsed(acct.accountId)).toBe(2);
    await created(invite(acct));
    expectProblem(await invite(acct), 409, "capacity_exceeded");
    expect(await seatsUsed(acct.accountId)).toBe(3);
  });

  it("revoking a pending invitation frees its seat", async () => {
    const acct = await createAccount("free");
    await created(addUser(acct));
    const invitationId = await created(invite(acct));
    expectProblem(await addUser(acct), 409, "capacity_exceeded");
    expect(
      (await call("DELETE", `/v1/invitations/${invitationId}`, { token: acct.token })).status,
    ).toBe(204);
    expect(
      (await rows("SELECT status FROM invitations WHERE id = ?", invitationId))[0]!.status,
    ).toBe("revoked");
    expect(await seatsUsed(acct.accountId)).toBe(2);
    await created(addUser(acct));
    expectProblem(await invite(acct), 409, "capacity_exceeded");
    expect(await seatsUsed(acct.accountId)).toBe(3);
  });

  it("an expired invitation frees its seat, and the email can be invited again", async () => {
    const acct = await createAccount("free");
    const ttl = await call("PATCH", "/v1/account", {
      token: acct.token,
      body: { settings: { invitation_ttl_hours: 1 } },
    });
    expect(ttl.status, JSON.stringify(ttl.body)).toBe(200);
    await created(addUser(acct));
    const email = uniqueEmail("expiring");
    const sent = await invite(acct, email);
    expect(sent.status).toBe(201);
    const expiresAt = Date.parse(sent.body.expires_at);
    expectProblem(await addUser(acct), 409, "capacity_exceeded");

    clock.offsetMs = 30 * MINUTE; // half-way through its hour: still holds the seat
    expectProblem(
      await addUser({ token: (await login(acct.adminEmail)).access_token }),
      409,
      "capacity_exceeded",
    );

    clock.offsetMs = expiresAt - Date.now() + MINUTE; // past its expiry, however long the above took
    const admin = { token: (await login(acct.adminEmail)).access_token };
    expect(await seatsUsed(acct.accountId)).toBe(2);
    const limits = await call("GET", "/v1/account/limits", admin);
    expect(limits.body.users).toMatchObject({
      limit: 3,
      active: 2,
      pending_invitations: 0,
      available: 1,
    });
    const again = await invite(admin, email);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body.id).not.toBe(sent.body.id);
    expect(await seatsUsed(acct.accountId)).toBe(3);
    expectProblem(await addUser(admin), 409, "capacity_exceeded");
  });
});

describe("D1 round trips", () => {
  it("POST /v1/users and POST /v1/invitations cost two: authentication and one conditional batch", async () => {
    const acct = await createAccount("team");
    const res = await addUser(acct);
    expect(res.status).toBe(201);
    expect(res.headers.get("x-d1-round-trips")).toBe("2");
    const invited = await invite(acct);
    expect(invited.status).toBe(201);
    expect(invited.headers.get("x-d1-round-trips")).toBe("2");
  });
});

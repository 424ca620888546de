/**
 * Authenticated reads run in the principal's D1 batch: one round trip, and the page is used
 * only after the route's checks, so refusals are unchanged and nothing of another account's
 * (or a refused caller's) page reaches the answer.
 */
import { describe, expect, it } from "vitest";
import {
  call,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  PASSWORD,
  uniqueEmail,
} from "../helpers";

const trips = (res: { headers: Headers }) => res.headers.get("x-d1-round-trips");

describe("authenticated reads in one round trip", () => {
  it("answers each converted read in one D1 round trip with the account's data", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    for (const path of [
      "/v1/me",
      "/v1/users?limit=50",
      `/v1/users/${user.id}`,
      "/v1/groups",
      `/v1/groups/${acct.membersId}`,
    ]) {
      const res = await call("GET", path, { token: acct.token });
      expect(res.status, path).toBe(200);
      expect(trips(res), path).toBe("1");
    }
    const list = await call("GET", "/v1/users?limit=50", { token: acct.token });
    expect(list.body.data.map((u: { id: string }) => u.id).sort()).toEqual(
      [acct.adminId, user.id].sort(),
    );
    const one = await call("GET", `/v1/users/${user.id}`, { token: acct.token });
    expect(one.body).toMatchObject({ id: user.id, email: user.email });
    expect(one.body.group_ids).toEqual([acct.membersId]);
    const group = await call("GET", `/v1/groups/${acct.membersId}`, { token: acct.token });
    expect(group.body).toMatchObject({ id: acct.membersId, name: "Members", member_count: 2 });
  });

  it("pages exactly as before: a full page, its cursor, and the rest", async () => {
    const acct = await createAccount();
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await createUser(acct)).id);
    const first = await call("GET", "/v1/users?limit=2", { token: acct.token });
    expect(trips(first)).toBe("1");
    expect(first.body.data).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const rest = await call(
      "GET",
      `/v1/users?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`,
      { token: acct.token },
    );
    expect(trips(rest)).toBe("1");
    expect(rest.body.next_cursor).toBeNull();
    const all = [...first.body.data, ...rest.body.data].map((u: { id: string }) => u.id);
    expect(all).toEqual([acct.adminId, ...made].sort());
  });

  it("refuses a caller without users:read or groups:read with 403 and no data", async () => {
    const acct = await createAccount();
    // Members may read users and groups by default; this account's may not.
    const stripped = await call("PATCH", `/v1/groups/${acct.membersId}`, {
      token: acct.token,
      body: { grants: [] },
    });
    expect(stripped.status).toBe(200);
    const plain = await createUser(acct);
    for (const path of [
      "/v1/users",
      `/v1/users/${acct.adminId}`,
      "/v1/groups",
      `/v1/groups/${acct.administratorsId}`,
    ]) {
      const res = await call("GET", path, { token: plain.token });
      expectProblem(res, 403, "forbidden");
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(acct.adminEmail);
      expect(text).not.toContain("Administrators");
      expect(res.body.data).toBeUndefined();
    }
    // Given the permission, the same caller reads.
    const readers = await createGroup(acct, [{ permission: "users:read" }]);
    await call("PUT", `/v1/users/${plain.id}/groups`, {
      token: acct.token,
      body: { group_ids: [readers] },
    });
    const now = await call("GET", "/v1/users", { token: plain.token });
    expect(now.status).toBe(200);
    expect(trips(now)).toBe("1");
  });

  it("never shows another account's users or groups", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const bUser = await createUser(b);
    const listA = await call("GET", "/v1/users?limit=100", { token: a.token });
    expect(listA.body.data.map((u: { id: string }) => u.id)).toEqual([a.adminId]);
    expectProblem(await call("GET", `/v1/users/${bUser.id}`, { token: a.token }), 404, "not_found");
    expectProblem(
      await call("GET", `/v1/groups/${b.membersId}`, { token: a.token }),
      404,
      "not_found",
    );
    const groupsA = await call("GET", "/v1/groups", { token: a.token });
    expect(groupsA.body.data.map((g: { id: string }) => g.id)).not.toContain(b.membersId);

    // Many reads of both accounts in flight at once: each answer holds only its own account.
    const replies = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        call("GET", "/v1/users?limit=100", { token: i % 2 ? a.token : b.token }).then((r) => ({
          r,
          mine: i % 2 ? [a.adminId] : [b.adminId, bUser.id].sort(),
        })),
      ),
    );
    for (const { r, mine } of replies) {
      expect(r.status).toBe(200);
      expect(r.body.data.map((u: { id: string }) => u.id)).toEqual(mine);
    }
  });

  it("answers 401 as before: no token, a bad token, an ended session", async () => {
    const acct = await createAccount();
    expectProblem(await call("GET", "/v1/users?limit=0"), 401, "unauthorized");
    expectProblem(await call("GET", "/v1/users", { token: "nope" }), 401, "unauthorized");
    const user = await createUser(acct);
    await call("POST", "/v1/auth/logout", { token: user.token });
    expectProblem(await call("GET", "/v1/users", { token: user.token }), 401, "unauthorized");
    // A disabled user's session reads nothing.
    const other = await createUser(acct);
    await call("PATCH", `/v1/users/${other.id}`, {
      token: acct.token,
      body: { status: "disabled" },
    });
    expectProblem(await call("GET", "/v1/users", { token: other.token }), 401, "unauthorized");
  });

  it("refuses bad input after authenticating, and a password-change gate before reading", async () => {
    const acct = await createAccount();
    expectProblem(
      await call("GET", "/v1/users?cursor=%25%25", { token: acct.token }),
      422,
      "validation_failed",
    );
    expectProblem(
      await call("GET", "/v1/users?limit=500", { token: acct.token }),
      422,
      "validation_failed",
    );
    const email = uniqueEmail("gated");
    await call("POST", "/v1/users", {
      token: acct.token,
      body: {
        email,
        first_name: "G",
        last_name: "Ated",
        password: PASSWORD,
        must_change_password: true,
        group_ids: [acct.administratorsId],
      },
    });
    const login = await call("POST", "/v1/auth/login", { body: { email, password: PASSWORD } });
    expectProblem(
      await call("GET", "/v1/users", { token: login.body.access_token }),
      403,
      "password_change_required",
    );
  });

  it("an API token reads the same page; its account is known only from its row, so one more round trip", async () => {
    const acct = await createAccount();
    const made = await call("POST", "/v1/api-tokens", {
      token: acct.token,
      body: { name: "ci", permissions: ["users:read"] },
    });
    expect(made.status).toBe(201);
    const me = await call("GET", "/v1/me", { token: made.body.token });
    const res = await call("GET", "/v1/users", { token: made.body.token });
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: { id: string }) => u.id)).toEqual([acct.adminId]);
    expect(Number(trips(res))).toBe(Number(trips(me)) + 1);
    expectProblem(await call("GET", "/v1/groups", { token: made.body.token }), 403, "forbidden");
  });
});

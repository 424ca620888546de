import { expect, it } from "vitest";
import { call, createAccount, createUser } from "../helpers";

it("answers health", async () => {
  const res = await call("GET", "/health");
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: "ok" });
});

it("creates an account, logs in and lists users", async () => {
  const acct = await createAccount();
  const me = await call("GET", "/v1/me", { token: acct.token });
  expect(me.status).toBe(200);
  expect(me.body.permissions.length).toBe(17);
  const user = await createUser(acct);
  const list = await call("GET", "/v1/users", { token: acct.token });
  expect(list.status).toBe(200);
  expect(list.body.data.map((u: any) => u.id)).toContain(user.id);
});

it("holds the D1 budget: one round trip for an authenticated read, one more for a write", async () => {
  const acct = await createAccount();
  const me = await call("GET", "/v1/me", { token: acct.token });
  expect(me.headers.get("x-d1-round-trips")).toBe("1");
  const list = await call("GET", "/v1/users?limit=50", { token: acct.token });
  expect(list.status).toBe(200);
  expect(list.headers.get("x-d1-round-trips")).toBe("1");
  const created = await call("POST", "/v1/users", {
    token: acct.token,
    body: {
      email: "budget@example.com",
      first_name: "B",
      last_name: "U",
      password: "correct horse battery staple 42",
    },
  });
  expect(created.status).toBe(201);
  expect(created.headers.get("x-d1-round-trips")).toBe("2");

  // A new group is answered from what its batch wrote: no read after the write.
  const group = await call("POST", "/v1/groups", {
    token: acct.token,
    body: { name: "Budget", grants: [{ permission: "users:read" }] },
  });
  expect(group.status).toBe(201);
  expect(group.headers.get("x-d1-round-trips")).toBe("2");
});

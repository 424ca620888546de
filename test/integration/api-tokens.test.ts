/**
 * API tokens as credentials that can be stolen: they cannot mint more tokens, they expire
 * within a year, and taking an account back (a reset, disabling) revokes them.
 */
import { describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  forgotAndReset,
  rows,
  type TestAccount,
} from "../helpers";

const DAY = 24 * 60 * 60 * 1000;

const mint = (token: string, extra: Record<string, unknown> = {}) =>
  call("POST", "/v1/api-tokens", {
    token,
    body: { name: "integration", permissions: ["users:read"], ...extra },
  });

describe("POST /v1/api-tokens", () => {
  it("is refused with an API token (403 forbidden): tokens are made from a login session", async () => {
    const acct = await createAccount();
    const manager = await mint(acct.token, { permissions: ["api_tokens:manage", "users:read"] });
    expect(manager.status).toBe(201);
    const before = await count(
      "SELECT count(*) AS n FROM api_tokens WHERE account_id = ?",
      acct.accountId,
    );
    expectProblem(await mint(manager.body.token), 403, "forbidden");
    expect(
      await count("SELECT count(*) AS n FROM api_tokens WHERE account_id = ?", acct.accountId),
    ).toBe(before);
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE account_id = ? AND type = 'api_token.created'",
        acct.accountId,
      ),
    ).toBe(1);
  });

  it("lives at most 365 days: a longer or absent expires_at becomes the maximum", async () => {
    const acct = await createAccount();
    const max = new Date(clock.now() + 365 * DAY).toISOString();
    const absent = await mint(acct.token);
    const longer = await mint(acct.token, {
      expires_at: new Date(clock.now() + 400 * DAY).toISOString(),
    });
    const shorter = new Date(clock.now() + 30 * DAY).toISOString();
    const kept = await mint(acct.token, { expires_at: shorter });
    for (const res of [absent, longer, kept]) expect(res.status).toBe(201);
    for (const res of [absent, longer]) {
      expect(Date.parse(res.body.expires_at)).toBeGreaterThanOrEqual(Date.parse(max) - 60_000);
      expect(Date.parse(res.body.expires_at)).toBeLessThanOrEqual(Date.parse(max) + 60_000);
      const [row] = await rows("SELECT expires_at FROM api_tokens WHERE id = ?", res.body.id);
      expect(row!.expires_at).toBe(Date.parse(res.body.expires_at));
    }
    expect(kept.body.expires_at).toBe(shorter);
  });
});

type Act = (acct: TestAccount, user: { id: string; email: string }) => Promise<{ status: number }>;

describe("taking an account back revokes its API tokens", () => {
  const cases: [string, Act][] = [
    [
      "an admin reset",
      (acct, user) =>
        call("POST", `/v1/users/${user.id}/password-reset`, { token: acct.token, body: {} }),
    ],
    ["a self-service reset", (_acct, user) => forgotAndReset(user.email)],
    [
      "disabling the user",
      (acct, user) =>
        call("PATCH", `/v1/users/${user.id}`, { token: acct.token, body: { status: "disabled" } }),
    ],
  ];
  for (const [name, act] of cases) {
    it(`${name} revokes every API token of the user`, async () => {
      const acct = await createAccount();
      const integrators = await createGroup(acct, [{ permission: "api_tokens:manage" }]);
      const user = await createUser(acct, { groupIds: [integrators] });
      const created = await mint(user.token);
      expect(created.status).toBe(201);
      expect((await call("GET", "/v1/users", { token: created.body.token })).status).toBe(200);

      const res = await act(acct, user);
      expect(res.status).toBeLessThan(300);

      const [row] = await rows("SELECT revoked_at FROM api_tokens WHERE id = ?", created.body.id);
      expect(row!.revoked_at).toEqual(expect.any(Number));
      expectProblem(
        await call("GET", "/v1/users", { token: created.body.token }),
        401,
        "unauthorized",
      );
    });
  }
});

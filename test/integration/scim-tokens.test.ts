/** SCIM tokens: shown once, stored hashed, sso:manage on an enterprise plan, the account's own. */
import { describe, expect, it } from "vitest";
import {
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  PLATFORM_TOKEN,
  rows,
} from "../helpers";

describe("/v1/scim-tokens", () => {
  it("creates a token shown once, lists it without the secret, and revokes it", async () => {
    const acct = await createAccount();
    const created = await call("POST", "/v1/scim-tokens", {
      token: acct.token,
      body: { name: "Okta" },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    expect(created.body).toMatchObject({
      name: "Okta",
      created_by: acct.adminId,
      last_used_at: null,
    });
    expect(created.body.token).toMatch(/^scim_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/);
    const [stored] = await rows("SELECT * FROM scim_tokens WHERE id = ?", created.body.id);
    expect(stored).toMatchObject({ account_id: acct.accountId, name: "Okta", revoked_at: null });
    expect(stored!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(created.body.token.split(".")[1]);

    const listed = await call("GET", "/v1/scim-tokens", { token: acct.token });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual(
      [{ ...created.body, token: undefined }].map(({ token, ...t }) => t),
    );
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);

    expect(
      (await call("DELETE", `/v1/scim-tokens/${created.body.id}`, { token: acct.token })).status,
    ).toBe(204);
    expect((await call("GET", "/v1/scim-tokens", { token: acct.token })).body.data).toEqual([]);
    expectProblem(
      await call("DELETE", `/v1/scim-tokens/${created.body.id}`, { token: acct.token }),
      404,
      "not_found",
    );
    const types = await rows<{ type: string }>(
      "SELECT type FROM activity_events WHERE subject_id = ? ORDER BY rowid",
      created.body.id,
    );
    expect(types.map((t) => t.type)).toEqual(["scim_token.created", "scim_token.revoked"]);
  });

  it("never shows or revokes another account's token", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const theirs = await call("POST", "/v1/scim-tokens", {
      token: other.token,
      body: { name: "Entra" },
    });
    expect((await call("GET", "/v1/scim-tokens", { token: acct.token })).body.data).toEqual([]);
    expectProblem(
      await call("DELETE", `/v1/scim-tokens/${theirs.body.id}`, { token: acct.token }),
      404,
      "not_found",
    );
    expect(
      await count(
        "SELECT count(*) AS n FROM scim_tokens WHERE id = ? AND revoked_at IS NULL",
        theirs.body.id,
      ),
    ).toBe(1);
  });

  it("needs sso:manage, a login session, and a plan with SCIM", async () => {
    const acct = await createAccount();
    const member = await createUser(acct);
    const manager = await createUser(acct, {
      groupIds: [
        await createGroup(acct, [
          { permission: "sso:manage" },
          { permission: "api_tokens:manage" },
        ]),
      ],
    });
    for (const [method, path] of [
      ["GET", "/v1/scim-tokens"],
      ["POST", "/v1/scim-tokens"],
      ["DELETE", "/v1/scim-tokens/scim_x"],
    ] as const) {
      expectProblem(
        await call(method, path, {
          token: member.token,
          body: method === "POST" ? { name: "x" } : undefined,
        }),
        403,
        "forbidden",
      );
    }
    expect((await call("GET", "/v1/scim-tokens", { token: manager.token })).status).toBe(200);
    const apiToken = await call("POST", "/v1/api-tokens", {
      token: manager.token,
      body: { name: "script", permissions: ["sso:manage"] },
    });
    expectProblem(
      await call("POST", "/v1/scim-tokens", { token: apiToken.body.token, body: { name: "x" } }),
      403,
      "forbidden",
    );

    const business = await createAccount("business");
    const refused = await call("POST", "/v1/scim-tokens", {
      token: business.token,
      body: { name: "x" },
    });
    expectProblem(refused, 403, "feature_not_in_plan");
    expect(refused.body.detail).toContain("enterprise");
    expect(
      await count("SELECT count(*) AS n FROM scim_tokens WHERE account_id = ?", business.accountId),
    ).toBe(0);

    // A downgrade hides the tokens' management too; they come back on upgrade.
    const made = await call("POST", "/v1/scim-tokens", {
      token: acct.token,
      body: { name: "kept" },
    });
    expect(made.status).toBe(201);
    const down = await call("PATCH", `/v1/platform/accounts/${acct.accountId}`, {
      token: PLATFORM_TOKEN,
      body: { plan: "business" },
    });
    expect(down.status).toBe(200);
    expectProblem(
      await call("GET", "/v1/scim-tokens", { token: acct.token }),
      403,
      "feature_not_in_plan",
    );
    await call("PATCH", `/v1/platform/accounts/${acct.accountId}`, {
      token: PLATFORM_TOKEN,
      body: { plan: "enterprise" },
    });
    expect(
      (await call("GET", "/v1/scim-tokens", { token: acct.token })).body.data.map((t: any) => t.id),
    ).toContain(made.body.id);
  });

  it("refuses bad input with 422 and stores nothing", async () => {
    const acct = await createAccount();
    for (const body of [
      {},
      { name: "" },
      { name: "x".repeat(101) },
      { name: "ok", extra: 1 },
      { name: 42 },
    ]) {
      expectProblem(
        await call("POST", "/v1/scim-tokens", { token: acct.token, body }),
        422,
        "validation_failed",
      );
    }
    expect(
      await count("SELECT count(*) AS n FROM scim_tokens WHERE account_id = ?", acct.accountId),
    ).toBe(0);
  });
});

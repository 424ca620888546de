/**
 * Team Login connection routes: GET/PUT/DELETE /v1/sso/connection on an enterprise plan
 * with sso:manage; the secret stored sealed and never shown; domains unique across
 * accounts; no mapping beyond what the caller holds; bad input stores nothing. The issuer
 * is a real oidc-provider started by the suite's globalSetup.
 */
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
  type TestAccount,
} from "../helpers";
import { connect, connectionBody, issuer, newDomain, start } from "../sso-helpers";

const stored = (accountId: string) =>
  rows("SELECT * FROM sso_connections WHERE account_id = ?", accountId);
const domainsOf = (accountId: string) =>
  rows<{ domain: string }>(
    "SELECT domain FROM sso_domains WHERE account_id = ? ORDER BY domain",
    accountId,
  ).then((r) => r.map((d) => d.domain));
const eventsOf = (accountId: string, type: string) =>
  rows("SELECT * FROM activity_events WHERE account_id = ? AND type = ?", accountId, type);

const put = (acct: { token: string }, body: unknown) =>
  call("PUT", "/v1/sso/connection", { token: acct.token, body });

async function setPlan(acct: TestAccount, plan: string) {
  const res = await call("PATCH", `/v1/platform/accounts/${acct.accountId}`, {
    token: PLATFORM_TOKEN,
    body: { plan },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

describe("PUT/GET/DELETE /v1/sso/connection", () => {
  it("creates, shows (never the secret), updates keeping the secret, and deletes", async () => {
    const acct = await createAccount();
    const engineers = await createGroup(acct, [{ permission: "users:read" }], "Engineers");
    const domain = newDomain();
    const res = await put(
      acct,
      connectionBody(domain.toUpperCase(), {
        sso_required: true,
        jit: { enabled: true, default_group_ids: [engineers] },
        group_mapping: { eng: [engineers] },
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const expected = {
      issuer: issuer(),
      client_id: "um-test-client",
      domains: [domain],
      sso_required: true,
      jit: { enabled: true, default_group_ids: [engineers] },
      group_claim: "groups",
      group_mapping: { eng: [engineers] },
      redirect_uri: "http://127.0.0.1:8787/v1/sso/callback",
    };
    expect(res.body).toMatchObject(expected);
    expect(JSON.stringify(res.body)).not.toContain("um-test-client-secret");
    expect(res.body).not.toHaveProperty("client_secret");

    const shown = await call("GET", "/v1/sso/connection", { token: acct.token });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(res.body);
    expect(JSON.stringify(shown.body)).not.toContain("secret");

    // Stored sealed: AES-GCM with a random IV, not the secret nor anything derived plainly.
    const [row] = await stored(acct.accountId);
    expect(row!.client_secret_enc).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(row!.client_secret_enc).not.toContain("um-test-client-secret");
    expect(row!.client_secret_enc).not.toContain(btoa("um-test-client-secret").slice(0, 12));
    expect(await domainsOf(acct.accountId)).toEqual([domain]);
    const [created] = await eventsOf(acct.accountId, "sso_connection.updated");
    expect(JSON.parse(created!.metadata)).toMatchObject({ created: true, domains: [domain] });
    expect(created!.metadata).not.toContain("um-test-client-secret");

    // Without client_secret the stored one stays; the domains are replaced.
    const other = newDomain("other");
    const { client_secret: _, ...noSecret } = connectionBody(other, { sso_required: false });
    const updated = await put(acct, noSecret);
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({
      domains: [other],
      sso_required: false,
      group_mapping: {},
    });
    const [after] = await stored(acct.accountId);
    expect(after!.client_secret_enc).toBe(row!.client_secret_enc);
    expect(after!.created_at).toBe(row!.created_at);
    expect(await domainsOf(acct.accountId)).toEqual([other]);
    // The kept secret still works: a login can start and finish with it (see sso-login tests).
    expect((await start(`account_id=${acct.accountId}`)).location).toContain(issuer());

    const removed = await call("DELETE", "/v1/sso/connection", { token: acct.token });
    expect(removed.status).toBe(204);
    expectProblem(await call("GET", "/v1/sso/connection", { token: acct.token }), 404, "not_found");
    expect(await stored(acct.accountId)).toHaveLength(0);
    expect(await domainsOf(acct.accountId)).toEqual([]);
    expect(await eventsOf(acct.accountId, "sso_connection.deleted")).toHaveLength(1);
    expectProblem(
      await call("DELETE", "/v1/sso/connection", { token: acct.token }),
      404,
      "not_found",
    );
    // The freed domain can be taken by another account.
    const next = await createAccount();
    await connect(next, other);
  });

  it("is the caller's account's own: another account sees 404 and cannot use its groups", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const domain = newDomain();
    await connect(a, domain);
    expectProblem(await call("GET", "/v1/sso/connection", { token: b.token }), 404, "not_found");
    expectProblem(await call("DELETE", "/v1/sso/connection", { token: b.token }), 404, "not_found");
    expect(await stored(a.accountId)).toHaveLength(1);

    const aGroup = await createGroup(a, [{ permission: "users:read" }]);
    for (const body of [
      connectionBody(newDomain(), { jit: { enabled: true, default_group_ids: [aGroup] } }),
      connectionBody(newDomain(), { group_mapping: { eng: [aGroup] } }),
    ]) {
      const res = await put(b, body);
      expectProblem(res, 422, "validation_failed");
      expect(res.body.errors[0].code).toBe("unknown_id");
    }
    expect(await stored(b.accountId)).toHaveLength(0);
    expect(await domainsOf(b.accountId)).toEqual([]);
  });

  it("needs sso:manage", async () => {
    const acct = await createAccount();
    const reader = await createUser(acct, {
      groupIds: [await createGroup(acct, [{ permission: "users:read" }])],
    });
    for (const [method, body] of [
      ["GET", undefined],
      ["PUT", connectionBody(newDomain())],
      ["DELETE", undefined],
    ] as const) {
      expectProblem(
        await call(method, "/v1/sso/connection", { token: reader.token, body }),
        403,
        "forbidden",
      );
    }
    expect(await stored(acct.accountId)).toHaveLength(0);
  });

  it("is refused on a plan without team_login, also after a downgrade, and back on upgrade", async () => {
    const business = await createAccount("business");
    for (const [method, body] of [
      ["GET", undefined],
      ["PUT", connectionBody(newDomain())],
      ["DELETE", undefined],
    ] as const) {
      const res = await call(method, "/v1/sso/connection", { token: business.token, body });
      expectProblem(res, 403, "feature_not_in_plan");
      expect(res.body.feature).toBe("team_login");
    }
    expect(await stored(business.accountId)).toHaveLength(0);

    const acct = await createAccount();
    const domain = newDomain();
    await connect(acct, domain);
    await setPlan(acct, "business");
    expectProblem(
      await call("GET", "/v1/sso/connection", { token: acct.token }),
      403,
      "feature_not_in_plan",
    );
    // The connection is kept, but logins stop until the plan has Team Login again.
    expect(await stored(acct.accountId)).toHaveLength(1);
    expectProblem(await call("GET", `/v1/sso/start?email=x@${domain}`), 403, "feature_not_in_plan");
    expectProblem(
      await call("GET", `/v1/sso/start?account_id=${acct.accountId}`),
      403,
      "feature_not_in_plan",
    );
    await setPlan(acct, "enterprise");
    expect((await call("GET", "/v1/sso/connection", { token: acct.token })).status).toBe(200);
    await start(`email=x@${domain}`);
  });

  it("refuses bad input with a problem and stores nothing", async () => {
    const acct = await createAccount();
    const domain = newDomain();
    const body = connectionBody(domain);
    const cases: [string, unknown, number, string][] = [
      ["no body fields", {}, 422, "validation_failed"],
      ["an unknown field", { ...body, extra: 1 }, 422, "validation_failed"],
      ["an issuer that is no URL", { ...body, issuer: "not a url" }, 422, "validation_failed"],
      ["an ftp issuer", { ...body, issuer: "ftp://idp.example" }, 422, "validation_failed"],
      [
        "an http issuer that is not loopback",
        { ...body, issuer: "http://idp.example" },
        422,
        "validation_failed",
      ],
      [
        "no client_secret on creation",
        { ...body, client_secret: undefined },
        422,
        "validation_failed",
      ],
      ["no domains", { ...body, domains: [] }, 422, "validation_failed"],
      ["a wildcard domain", { ...body, domains: ["*.example.com"] }, 422, "validation_failed"],
      ["a one-label domain", { ...body, domains: ["localhost"] }, 422, "validation_failed"],
      ["an email as domain", { ...body, domains: ["a@b.example"] }, 422, "validation_failed"],
      ["jit without its fields", { ...body, jit: { enabled: true } }, 422, "validation_failed"],
      [
        "a mapping to something that is no list",
        { ...body, group_mapping: { eng: "grp_1" } },
        422,
        "validation_failed",
      ],
      [
        "unknown default groups",
        { ...body, jit: { enabled: true, default_group_ids: ["grp_nope"] } },
        422,
        "validation_failed",
      ],
      [
        "an issuer that answers nothing",
        { ...body, issuer: "http://127.0.0.1:1" },
        422,
        "sso_issuer_invalid",
      ],
      [
        "an issuer without a discovery document",
        { ...body, issuer: `${issuer()}/not-an-issuer` },
        422,
        "sso_issuer_invalid",
      ],
    ];
    for (const [label, input, status, code] of cases) {
      const res = await put(acct, input);
      expect(res.status, label).toBe(status);
      expectProblem(res, status, code);
    }
    const malformed = await call("PUT", "/v1/sso/connection", {
      token: acct.token,
      raw: "{not json",
      headers: { "content-type": "application/json" },
    });
    expectProblem(malformed, 400, "invalid_json");
    expect(await stored(acct.accountId)).toHaveLength(0);
    expect(await domainsOf(acct.accountId)).toEqual([]);
    expect(await eventsOf(acct.accountId, "sso_connection.updated")).toHaveLength(0);
  });

  it("gives a domain to one account only (409), and changes nothing for the second", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const domain = newDomain();
    await connect(a, domain);
    const res = await put(b, connectionBody(domain.toUpperCase()));
    expectProblem(res, 409, "sso_domain_taken");
    expect(await stored(b.accountId)).toHaveLength(0);
    expect(await domainsOf(a.accountId)).toEqual([domain]);

    // Racing claims of one new domain: exactly one account gets it.
    const contested = newDomain("contested");
    const accounts = await Promise.all([createAccount(), createAccount(), createAccount()]);
    const results = await Promise.all(accounts.map((x) => put(x, connectionBody(contested))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect(await count("SELECT count(*) AS n FROM sso_domains WHERE domain = ?", contested)).toBe(
      1,
    );
  });

  it("refuses mapping IdP groups to more than the caller holds", async () => {
    const acct = await createAccount();
    const manager = await createUser(acct, {
      groupIds: [
        await createGroup(acct, [{ permission: "sso:manage" }, { permission: "users:read" }]),
      ],
    });
    const readers = await createGroup(acct, [{ permission: "users:read" }]);
    for (const body of [
      connectionBody(newDomain(), { group_mapping: { it: [acct.administratorsId] } }),
      connectionBody(newDomain(), {
        jit: { enabled: true, default_group_ids: [acct.administratorsId] },
      }),
    ]) {
      expectProblem(await put(manager, body), 403, "permission_not_held");
    }
    expect(await stored(acct.accountId)).toHaveLength(0);
    // Within what they hold it works, Members included.
    const ok = await put(
      manager,
      connectionBody(newDomain(), {
        group_mapping: { staff: [readers, acct.membersId] },
        jit: { enabled: true, default_group_ids: [readers] },
      }),
    );
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });
});

/**
 * Inputs that once answered 500: long grant lists and scopes, an import without a body,
 * malformed form bodies on the pages, and a create import too large to hash in one request.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import {
  call,
  count,
  createAccount,
  createUser,
  expectProblem,
  PASSWORD,
  rows,
  uniqueEmail,
} from "../helpers";

async function deviceOrganizations(accountId: string, n: number) {
  const ids = Array.from({ length: n }, () => newId("deviceOrganization"));
  const stmt = env.DB.prepare(
    "INSERT INTO device_organizations (id, account_id, name, created_at) VALUES (?, ?, ?, ?)",
  );
  await env.DB.batch(ids.map((id, i) => stmt.bind(id, accountId, `org ${i}`, Date.now())));
  return ids;
}

describe("long lists", () => {
  it("a group with 100 grants and a 500-id scope is created, read, updated and assigned", async () => {
    const acct = await createAccount();
    const orgs = await deviceOrganizations(acct.accountId, 500);
    const grants = [
      { permission: "devices:read", scope: { device_organization_ids: orgs } },
      {
        permission: "content:read",
        scope: { content_types: Array.from({ length: 500 }, (_, i) => `type-${i}`) },
      },
      ...Array.from({ length: 98 }, (_, i) => ({
        permission: "devices:write",
        scope: { device_organization_ids: [orgs[i]!] },
      })),
    ];
    const created = await call("POST", "/v1/groups", {
      token: acct.token,
      body: { name: "Wide", grants },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.grants).toHaveLength(100);
    const id = created.body.id as string;
    expect(await count("SELECT count(*) AS n FROM grants WHERE group_id = ?", id)).toBe(100);

    const read = await call("GET", `/v1/groups/${id}`, { token: acct.token });
    expect(read.status).toBe(200);
    expect(read.body.grants[0].scope.device_organization_ids).toHaveLength(500);

    const updated = await call("PATCH", `/v1/groups/${id}`, {
      token: acct.token,
      body: { grants: grants.slice().reverse() },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);

    const member = await createUser(acct, { groupIds: [acct.membersId, id] });
    const me = await call("GET", "/v1/me", { token: member.token });
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    const put = await call("PUT", `/v1/users/${member.id}/groups`, {
      token: acct.token,
      body: { group_ids: [acct.membersId, id] },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const check = await call("POST", "/v1/authz/check", {
      token: member.token,
      body: { permission: "devices:read", resource: { device_organization_id: orgs[499] } },
    });
    expect(check.status, JSON.stringify(check.body)).toBeLessThan(500);
    const listed = await call("GET", "/v1/groups", { token: acct.token });
    expect(listed.status).toBe(200);
  });

  it("a 500-id scope naming organizations the account does not have is 422", async () => {
    const acct = await createAccount();
    const ids = Array.from({ length: 500 }, (_, i) => `dorg_missing_${i}`);
    const res = await call("POST", "/v1/groups", {
      token: acct.token,
      body: {
        name: "Ghosts",
        grants: [{ permission: "devices:read", scope: { device_organization_ids: ids } }],
      },
    });
    expectProblem(res, 422, "validation_failed");
    expect(await count("SELECT count(*) AS n FROM groups WHERE name = 'Ghosts'")).toBe(0);
  });
});

describe("POST /v1/users/import", () => {
  it("without a body is a 4xx problem, never a 500", async () => {
    const acct = await createAccount();
    for (const headers of [{}, { "content-type": "application/json" }] as Record<
      string,
      string
    >[]) {
      const res = await call("POST", "/v1/users/import", { token: acct.token, headers });
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
      expect([400, 415, 422]).toContain(res.status);
    }
    expect(
      await count("SELECT count(*) AS n FROM invitations WHERE account_id = ?", acct.accountId),
    ).toBe(0);
  });

  it("refuses more than 50 create rows with passwords in one request, before hashing any", async () => {
    const acct = await createAccount();
    const body = {
      rows: Array.from({ length: 1000 }, (_, i) => ({
        email: uniqueEmail(`bulk${i}`),
        action: "create",
        first_name: "Bulk",
        last_name: String(i),
        password: PASSWORD,
      })),
    };
    const started = Date.now();
    const res = await call("POST", "/v1/users/import", { token: acct.token, body });
    expectProblem(res, 422, "validation_failed");
    expect(res.body.errors).toEqual([expect.objectContaining({ path: "rows", code: "too_big" })]);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(
      await count("SELECT count(*) AS n FROM users WHERE account_id = ?", acct.accountId),
    ).toBe(1);

    const fifty = { rows: body.rows.slice(0, 50).map((r) => ({ ...r, email: uniqueEmail() })) };
    const ok = await call("POST", "/v1/users/import", { token: acct.token, body: fifty });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.summary).toMatchObject({ total: 50, created: 50, failed: 0 });
  });

  it("fails rows beyond the seats available with capacity_exceeded, without creating them", async () => {
    const acct = await createAccount("free"); // 3 seats, the admin holds one
    const body = {
      rows: Array.from({ length: 40 }, (_, i) => ({
        email: uniqueEmail(`cap${i}`),
        action: "create",
        first_name: "Cap",
        last_name: String(i),
        password: PASSWORD,
      })),
    };
    const started = Date.now();
    const res = await call("POST", "/v1/users/import", { token: acct.token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.summary).toMatchObject({ total: 40, created: 2, failed: 38 });
    for (const r of res.body.results.slice(2)) expect(r.code).toBe("capacity_exceeded");
    // Two hashes, not forty: refused rows are never hashed.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(
      await rows(
        "SELECT last_name FROM users WHERE account_id = ? AND first_name = 'Cap' ORDER BY last_name",
        acct.accountId,
      ),
    ).toEqual([{ last_name: "0" }, { last_name: "1" }]);
  });
});

describe("server pages with malformed form bodies", () => {
  const bodies: [string, BodyInit][] = [
    ["multipart/form-data", "token=abc"],
    ["multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data\r\n\r\nx"],
    ["multipart/form-data; boundary=xyz", "not multipart at all"],
    ["application/x-www-form-urlencoded", "%E0%A4%A=%"],
    ["application/x-www-form-urlencoded", "token=%zz&password=%"],
    ["text/plain", "token=abc"],
    ["application/json", '{"token": '],
  ];
  for (const path of ["/activate", "/reset-password", "/verify-email", "/cancel-email-change"]) {
    it(`POST ${path} answers a page, never a 500`, async () => {
      for (const [type, raw] of bodies) {
        const res = await call("POST", path, { raw, headers: { "content-type": type } });
        expect(res.status, `${type} ${String(raw)}`).toBeLessThan(500);
        expect([400, 404, 410, 422]).toContain(res.status);
        expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      }
    });
  }
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, count, createAccount, newMail, PASSWORD, uniqueEmail } from "../helpers";

const csv = (text: string) => ({ raw: text, headers: { "content-type": "text/csv" } });

describe("bulk import", () => {
  it("imports CSV rows in any column order: invites by default, creates with a password", async () => {
    const acct = await createAccount();
    const [a, b, c] = [uniqueEmail("a"), uniqueEmail("b"), uniqueEmail("c")];
    const body = `last_name,email,action,first_name,password,group_ids\nLee,${a},,Ana,,\n"O'Hara, Jr.",${b},create,Bo,${PASSWORD},${acct.administratorsId};${acct.membersId}\n,${c},invite,,,`;
    const res = await call("POST", "/v1/users/import", { token: acct.token, ...csv(body) });
    expect(res.status).toBe(200);
    expect(res.body.summary).toEqual({ total: 3, created: 1, invited: 2, failed: 0 });
    expect(res.body.results.map((r: any) => [r.row, r.status])).toEqual([
      [1, "invited"],
      [2, "created"],
      [3, "invited"],
    ]);
    const created = await env.DB.prepare("SELECT last_name, created_via FROM users WHERE email = ?")
      .bind(b)
      .first();
    expect(created).toEqual({ last_name: "O'Hara, Jr.", created_via: "import" });
    expect(
      await count(
        "SELECT count(*) AS n FROM group_memberships WHERE user_id = ?",
        res.body.results[1].id,
      ),
    ).toBe(2);
    expect(
      await count(
        "SELECT count(*) AS n FROM invitations WHERE account_id = ? AND status = 'pending'",
        acct.accountId,
      ),
    ).toBe(2);
    const login = await call("POST", "/v1/auth/login", { body: { email: b, password: PASSWORD } });
    expect(login.status).toBe(200);
    // The invitation's mail follows from the queue.
    expect((await newMail(a, [])).tag).toBe("invitation");
  });

  it("reports bad rows one by one and writes nothing for them", async () => {
    const acct = await createAccount();
    const good = uniqueEmail("good");
    const res = await call("POST", "/v1/users/import", {
      token: acct.token,
      body: {
        rows: [
          { email: "not-an-email" },
          { email: uniqueEmail(), action: "create", first_name: "No", last_name: "Password" },
          {
            email: uniqueEmail(),
            action: "create",
            first_name: "Weak",
            last_name: "Pw",
            password: "short",
          },
          { email: uniqueEmail(), group_ids: ["grp_unknown"] },
          { email: acct.adminEmail },
          { email: good, action: "invite" },
          { email: good, action: "invite" },
          { email: uniqueEmail(), nickname: "x" },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => [r.status, r.code])).toEqual([
      ["failed", "validation_failed"],
      ["failed", "validation_failed"],
      ["failed", "weak_password"],
      ["failed", "validation_failed"],
      ["failed", "email_taken"],
      ["invited", undefined],
      ["failed", "invitation_pending"],
      ["failed", "validation_failed"],
    ]);
    expect(
      await count("SELECT count(*) AS n FROM invitations WHERE account_id = ?", acct.accountId),
    ).toBe(1);
    expect(
      await count("SELECT count(*) AS n FROM users WHERE account_id = ?", acct.accountId),
    ).toBe(1);
  });

  it("never exceeds capacity: rows beyond it get capacity_exceeded", async () => {
    const acct = await createAccount("free"); // 3 seats, the admin holds one
    const rows = Array.from({ length: 6 }, (_, i) =>
      i % 2
        ? {
            email: uniqueEmail(),
            action: "create",
            first_name: "C",
            last_name: String(i),
            password: PASSWORD,
          }
        : { email: uniqueEmail() },
    );
    const res = await call("POST", "/v1/users/import", { token: acct.token, body: { rows } });
    expect(res.status).toBe(200);
    expect(res.body.summary.failed).toBe(4);
    expect(res.body.results.slice(2).every((r: any) => r.code === "capacity_exceeded")).toBe(true);
    const seats =
      (await count(
        "SELECT count(*) AS n FROM users WHERE account_id = ? AND status = 'active'",
        acct.accountId,
      )) +
      (await count(
        "SELECT count(*) AS n FROM invitations WHERE account_id = ? AND status = 'pending'",
        acct.accountId,
      ));
    expect(seats).toBe(3);
  });

  it("refuses bad files whole: unknown columns, no email column, too many rows, wrong type", async () => {
    const acct = await createAccount();
    for (const body of ["email,nickname\na@example.com,x", "first_name\nAna", "email\n"]) {
      const res = await call("POST", "/v1/users/import", { token: acct.token, ...csv(body) });
      expect(res.status, body).toBe(422);
      expect(res.body.code).toBe("validation_failed");
    }
    const tooMany = `email\n${Array.from({ length: 1001 }, (_, i) => `u${i}@example.com`).join("\n")}`;
    expect(
      (await call("POST", "/v1/users/import", { token: acct.token, ...csv(tooMany) })).status,
    ).toBe(422);
    expect(
      (await call("POST", "/v1/users/import", { token: acct.token, body: { rows: [] } })).status,
    ).toBe(422);
    expect(
      (
        await call("POST", "/v1/users/import", {
          token: acct.token,
          raw: "x",
          headers: { "content-type": "text/plain" },
        })
      ).status,
    ).toBe(415);
    expect(
      await count("SELECT count(*) AS n FROM invitations WHERE account_id = ?", acct.accountId),
    ).toBe(0);
  });
});

describe("bulk import and Members", () => {
  it("created and invited rows always include Members", async () => {
    const acct = await createAccount();
    const ops = (
      await call("POST", "/v1/groups", {
        token: acct.token,
        body: { name: "Ops", grants: [{ permission: "devices:read" }] },
      })
    ).body.id as string;
    const [made, invited] = [uniqueEmail("made"), uniqueEmail("invited")];
    const res = await call("POST", "/v1/users/import", {
      token: acct.token,
      body: {
        rows: [
          {
            email: made,
            action: "create",
            first_name: "M",
            last_name: "A",
            password: PASSWORD,
            group_ids: [ops],
          },
          { email: invited, group_ids: [ops] },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.summary).toMatchObject({ created: 1, invited: 1, failed: 0 });
    const groups = await env.DB.prepare(
      "SELECT group_id FROM group_memberships WHERE user_id = ? ORDER BY group_id",
    )
      .bind(res.body.results[0].id)
      .all<{ group_id: string }>();
    expect(groups.results.map((r) => r.group_id)).toEqual([ops, acct.membersId].sort());
    const invitation = await env.DB.prepare("SELECT group_ids FROM invitations WHERE email = ?")
      .bind(invited)
      .first<{ group_ids: string }>();
    expect(JSON.parse(invitation!.group_ids).sort()).toEqual([ops, acct.membersId].sort());
  });
});

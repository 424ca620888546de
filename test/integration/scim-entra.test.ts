/**
 * Microsoft Entra's SCIM provisioning, replayed as Entra sends it: the connection test,
 * create with the enterprise extension, lookups by userName and externalId, PATCH with
 * capitalised op names, string booleans, filtered email paths and extension paths, and
 * groups with member value arrays for add and remove.
 */
import { describe, expect, it } from "vitest";
import {
  call,
  count,
  createAccount,
  createScimToken,
  expectScimError,
  rows,
  scim,
  uniqueEmail,
} from "../helpers";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const q = (filter: string) => `filter=${encodeURIComponent(filter)}`;
const limits = async (token: string) =>
  (await call("GET", "/v1/account/limits", { token })).body.users as {
    active: number;
    available: number;
  };

describe("Microsoft Entra provisioning", () => {
  it("passes the connection test: unknown users are an empty list or 404", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct, "Entra");
    const empty = await scim(
      "GET",
      `/Users?${q('userName eq "ec0cbb9b-3a2f-4a1e-b9f9-0f1ae5a7fae0"')}`,
      token,
    );
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({
      schemas: [LIST],
      totalResults: 0,
      itemsPerPage: 0,
      startIndex: 1,
      Resources: [],
    });
    const missing = await scim("GET", "/Users/8f2c4d1e-0000-4000-8000-000000000000", token);
    expectScimError(missing, 404);
    expect(
      (await scim("GET", `/Groups?excludedAttributes=members&${q('displayName eq "x"')}`, token))
        .body.totalResults,
    ).toBe(0);
  });

  it("creates a user with the enterprise extension, patches, disables, enables and deletes it", async () => {
    const acct = await createAccount();
    const { id: tokenId, token } = await createScimToken(acct, "Entra");
    const upn = uniqueEmail("test_user");
    const before = await limits(acct.token);

    const created = await scim("POST", "/Users", token, {
      schemas: [USER, ENTERPRISE],
      externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
      userName: upn,
      active: true,
      emails: [{ primary: true, type: "work", value: upn }],
      meta: { resourceType: "User" },
      name: { formatted: "Ada Lovelace", familyName: "Lovelace", givenName: "Ada" },
      roles: [],
      [ENTERPRISE]: { department: "Engineering", manager: { value: "someone" } },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({
      schemas: [USER],
      id,
      externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
      userName: upn,
      active: true,
      name: { givenName: "Ada", familyName: "Lovelace" },
      emails: [{ value: upn, type: "work", primary: true }],
      meta: { resourceType: "User" },
    });
    expect((await limits(acct.token)).active).toBe(before.active + 1);

    // Entra finds users by externalId and by userName.
    const byExternal = await scim(
      "GET",
      `/Users?${q('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')}`,
      token,
    );
    expect(byExternal.body.Resources.map((r: any) => r.id)).toEqual([id]);
    expect(
      (
        await scim(
          "GET",
          `/Users?${q('externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"')}`,
          token,
        )
      ).body.totalResults,
    ).toBe(0);
    const byEmail = await scim(
      "GET",
      `/Users?${q(`emails[type eq "work"].value eq "${upn}"`)}`,
      token,
    );
    expect(byEmail.body.Resources.map((r: any) => r.id)).toEqual([id]);

    const newEmail = uniqueEmail("updated");
    const patched = await scim("PATCH", `/Users/${id}`, token, {
      schemas: [PATCH],
      Operations: [
        { op: "Replace", path: 'emails[type eq "work"].value', value: newEmail },
        { op: "Replace", path: "name.familyName", value: "Byron" },
        { op: "Add", path: `${ENTERPRISE}:department`, value: "Sales" },
        { op: "Replace", path: `${ENTERPRISE}:manager`, value: "2819c223-7f76-453a-919d" },
        { op: "Add", path: "title", value: "Countess" },
      ],
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      id,
      userName: newEmail,
      emails: [{ value: newEmail, type: "work", primary: true }],
      name: { givenName: "Ada", familyName: "Byron" },
    });
    expect(await rows("SELECT email, last_name FROM users WHERE id = ?", id)).toEqual([
      { email: newEmail, last_name: "Byron" },
    ]);

    // userName changes the email too.
    const renamed = await scim("PATCH", `/Users/${id}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "Replace", path: "userName", value: upn.toUpperCase() }],
    });
    expect(renamed.body.userName).toBe(upn);

    const disabled = await scim("PATCH", `/Users/${id}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "Replace", path: "active", value: "False" }],
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body.active).toBe(false);
    expect((await limits(acct.token)).active).toBe(before.active);

    const enabled = await scim("PATCH", `/Users/${id}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "Replace", path: "active", value: "True" }],
    });
    expect(enabled.body.active).toBe(true);
    expect((await limits(acct.token)).active).toBe(before.active + 1);

    expect((await scim("DELETE", `/Users/${id}`, token)).status).toBe(204);
    expect(await count("SELECT count(*) AS n FROM users WHERE id = ?", id)).toBe(0);
    expect((await limits(acct.token)).active).toBe(before.active);

    const events = await rows(
      "SELECT type, actor_type, actor_id, method, metadata FROM activity_events WHERE subject_id = ? ORDER BY rowid",
      id,
    );
    expect(events.map((e) => e.type)).toEqual([
      "user.created",
      "user.updated",
      "user.email_changed",
      "user.email_changed",
      "user.disabled",
      "user.enabled",
      "user.deleted",
    ]);
    expect(JSON.parse(events[2]!.metadata)).toEqual({ from: upn, to: newEmail });
    for (const e of events) {
      expect(e).toMatchObject({ actor_type: "scim_token", actor_id: tokenId, method: "scim" });
    }
  });

  it("manages a group: create, rename, add and remove members with value arrays, delete", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct, "Entra");
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const u = await scim("POST", "/Users", token, {
        schemas: [USER],
        userName: uniqueEmail(`member${n}`),
        active: true,
      });
      ids.push(u.body.id);
    }
    const created = await scim("POST", "/Groups", token, {
      schemas: [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
      externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
      displayName: "Sales",
      meta: { resourceType: "Group" },
    });
    expect(created.status).toBe(201);
    const gid = created.body.id as string;
    expect(created.body).toMatchObject({
      schemas: [GROUP],
      id: gid,
      externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
      displayName: "Sales",
      members: [],
    });

    const got = await scim("GET", `/Groups/${gid}?excludedAttributes=members`, token);
    expect(got.status).toBe(200);
    expect(got.body).not.toHaveProperty("members");
    const found = await scim(
      "GET",
      `/Groups?excludedAttributes=members&${q('displayName eq "Sales"')}`,
      token,
    );
    expect(found.body).toMatchObject({ totalResults: 1, Resources: [{ id: gid }] });

    expect(
      (
        await scim("PATCH", `/Groups/${gid}`, token, {
          schemas: [PATCH],
          Operations: [{ op: "Replace", path: "displayName", value: "Sales EMEA" }],
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await scim("PATCH", `/Groups/${gid}`, token, {
          schemas: [PATCH],
          Operations: [
            { op: "Add", path: "members", value: ids.map((value) => ({ $ref: null, value })) },
          ],
        })
      ).status,
    ).toBe(204);
    const full = await scim("GET", `/Groups/${gid}`, token);
    expect(full.body.displayName).toBe("Sales EMEA");
    expect(full.body.members.map((m: any) => m.value).sort()).toEqual([...ids].sort());

    expect(
      (
        await scim("PATCH", `/Groups/${gid}`, token, {
          schemas: [PATCH],
          Operations: [{ op: "Remove", path: "members", value: [{ $ref: null, value: ids[0] }] }],
        })
      ).status,
    ).toBe(204);
    expect(
      (await scim("GET", `/Groups/${gid}`, token)).body.members.map((m: any) => m.value),
    ).toEqual([ids[1]]);
    // The removed member's next request sees it: the group is gone from their groups.
    expect((await scim("GET", `/Users/${ids[0]}`, token)).body.groups).toEqual([]);
    expect((await scim("GET", `/Users/${ids[1]}`, token)).body.groups).toMatchObject([
      { value: gid, display: "Sales EMEA" },
    ]);

    // A member that is not a user of the account is refused, and nothing changes.
    const bad = await scim("PATCH", `/Groups/${gid}`, token, {
      schemas: [PATCH],
      Operations: [
        { op: "Add", path: "members", value: [{ value: ids[0] }, { value: "usr_nobody" }] },
      ],
    });
    expectScimError(bad, 400, "invalidValue");
    expect(await count("SELECT count(*) AS n FROM group_memberships WHERE group_id = ?", gid)).toBe(
      1,
    );

    expect((await scim("DELETE", `/Groups/${gid}`, token)).status).toBe(204);
    expect(await count("SELECT count(*) AS n FROM group_memberships WHERE group_id = ?", gid)).toBe(
      0,
    );
    // Everyone stays in Members.
    for (const id of ids) {
      expect(
        await count(
          "SELECT count(*) AS n FROM group_memberships WHERE user_id = ? AND group_id = ?",
          id,
          acct.membersId,
        ),
      ).toBe(1);
    }
  });
});

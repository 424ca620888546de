/**
 * Okta's SCIM 2.0 provisioning, replayed request by request as Okta sends it: look a user
 * up by userName, create, read, replace, deactivate and reactivate with PATCH; push a
 * group, rename it, add and remove a member, delete it. The bodies are Okta's own shapes.
 */
import { describe, expect, it } from "vitest";
import {
  call,
  count,
  createAccount,
  createScimToken,
  rows,
  SCIM_JSON,
  scim,
  uniqueEmail,
} from "../helpers";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const seats = async (token: string) =>
  (await call("GET", "/v1/account/limits", { token })).body.users.active as number;

describe("Okta provisioning", () => {
  it("creates, finds, updates, deactivates and reactivates a user", async () => {
    const acct = await createAccount();
    const { id: tokenId, token } = await createScimToken(acct, "Okta");
    const email = uniqueEmail("dade");
    const before = await seats(acct.token);

    // Okta first checks whether the user exists.
    const lookup = await scim(
      "GET",
      `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`,
      token,
    );
    expect(lookup.status).toBe(200);
    expect(lookup.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(lookup.body).toEqual({
      schemas: [LIST],
      totalResults: 0,
      itemsPerPage: 0,
      startIndex: 1,
      Resources: [],
    });

    const created = await scim("POST", "/Users", token, {
      schemas: [USER],
      userName: email,
      name: { givenName: "Dade", familyName: "Murphy" },
      emails: [{ primary: true, value: email, type: "work" }],
      displayName: "Dade Murphy",
      locale: "en-US",
      externalId: "00ujl29u0le5T6Aj10h7",
      groups: [],
      password: "1mz050nq",
      active: true,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(id).toMatch(/^usr_/);
    expect(created.headers.get("location")).toBe(created.body.meta.location);
    expect(created.body).toEqual({
      schemas: [USER],
      id,
      externalId: "00ujl29u0le5T6Aj10h7",
      userName: email,
      name: { givenName: "Dade", familyName: "Murphy", formatted: "Dade Murphy" },
      displayName: "Dade Murphy",
      emails: [{ value: email, type: "work", primary: true }],
      active: true,
      groups: [],
      meta: {
        resourceType: "User",
        created: expect.any(String),
        lastModified: expect.any(String),
        location: `http://127.0.0.1:8787/scim/v2/Users/${id}`,
      },
    });
    const [stored] = await rows("SELECT * FROM users WHERE id = ?", id);
    expect(stored).toMatchObject({
      account_id: acct.accountId,
      email,
      first_name: "Dade",
      last_name: "Murphy",
      password_hash: null,
      status: "active",
      created_via: "scim",
      external_id: "00ujl29u0le5T6Aj10h7",
    });
    expect(await rows("SELECT group_id FROM group_memberships WHERE user_id = ?", id)).toEqual([
      { group_id: acct.membersId },
    ]);
    expect(await seats(acct.token)).toBe(before + 1);

    // Found again by userName, in any case, and by id.
    const found = await scim(
      "GET",
      `/Users?filter=${encodeURIComponent(`userName eq "${email.toUpperCase()}"`)}&startIndex=1&count=100`,
      token,
    );
    expect(found.body).toMatchObject({ totalResults: 1, itemsPerPage: 1, startIndex: 1 });
    expect(found.body.Resources).toEqual([created.body]);
    const got = await scim("GET", `/Users/${id}`, token);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    // Profile updates come as a PUT of the whole user.
    const replaced = await scim("PUT", `/Users/${id}`, token, {
      schemas: [USER],
      id,
      userName: email,
      name: { givenName: "Crash", familyName: "Override" },
      emails: [{ primary: true, value: email, type: "work" }],
      active: true,
      externalId: "00ujl29u0le5T6Aj10h7",
      groups: [],
      meta: { resourceType: "User" },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      id,
      name: { givenName: "Crash", familyName: "Override" },
      displayName: "Crash Override",
      active: true,
    });

    const deactivated = await scim("PATCH", `/Users/${id}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "replace", value: { active: false } }],
    });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body).toMatchObject({ id, active: false, userName: email });
    expect((await rows("SELECT status FROM users WHERE id = ?", id))[0]!.status).toBe("disabled");
    expect(await seats(acct.token)).toBe(before);

    const reactivated = await scim("PATCH", `/Users/${id}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "replace", value: { active: true } }],
    });
    expect(reactivated.status).toBe(200);
    expect(reactivated.body.active).toBe(true);
    expect(await seats(acct.token)).toBe(before + 1);

    const events = await rows(
      "SELECT type, actor_type, actor_id, method FROM activity_events WHERE subject_id = ? ORDER BY rowid",
      id,
    );
    expect(events.map((e) => e.type)).toEqual([
      "user.created",
      "user.updated",
      "user.disabled",
      "user.enabled",
    ]);
    for (const e of events) {
      expect(e).toMatchObject({ actor_type: "scim_token", actor_id: tokenId, method: "scim" });
    }
    // The token's use is recorded.
    const [t] = await rows("SELECT last_used_at FROM scim_tokens WHERE id = ?", tokenId);
    expect(t!.last_used_at).not.toBeNull();
  });

  it("pushes a group, renames it, adds and removes a member, and deletes it", async () => {
    const acct = await createAccount();
    const { id: tokenId, token } = await createScimToken(acct, "Okta");
    const email = uniqueEmail("kate");
    const user = await scim("POST", "/Users", token, {
      schemas: [USER],
      userName: email,
      name: { givenName: "Kate", familyName: "Libby" },
      emails: [{ primary: true, value: email, type: "work" }],
      active: true,
    });
    const userId = user.body.id as string;

    const absent = await scim(
      "GET",
      `/Groups?filter=${encodeURIComponent('displayName eq "Test SCIMv2"')}&startIndex=1&count=100`,
      token,
    );
    expect(absent.body).toMatchObject({ schemas: [LIST], totalResults: 0, Resources: [] });

    const group = await scim("POST", "/Groups", token, {
      schemas: [GROUP],
      displayName: "Test SCIMv2",
      members: [],
    });
    expect(group.status).toBe(201);
    const groupId = group.body.id as string;
    expect(group.body).toEqual({
      schemas: [GROUP],
      id: groupId,
      displayName: "Test SCIMv2",
      members: [],
      meta: {
        resourceType: "Group",
        created: expect.any(String),
        lastModified: expect.any(String),
        location: `http://127.0.0.1:8787/scim/v2/Groups/${groupId}`,
      },
    });
    expect(await rows("SELECT created_via, builtin FROM groups WHERE id = ?", groupId)).toEqual([
      { created_via: "scim", builtin: null },
    ]);
    expect(await count("SELECT count(*) AS n FROM grants WHERE group_id = ?", groupId)).toBe(0);

    const listed = await scim(
      "GET",
      `/Groups?filter=${encodeURIComponent('displayName eq "test scimv2"')}&startIndex=1&count=100`,
      token,
    );
    expect(listed.body).toMatchObject({ totalResults: 1, itemsPerPage: 1 });
    expect(listed.body.Resources[0].id).toBe(groupId);

    const renamed = await scim("PATCH", `/Groups/${groupId}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "replace", value: { id: groupId, displayName: "Test SCIMv2 renamed" } }],
    });
    expect(renamed.status).toBe(204);
    expect((await rows("SELECT name FROM groups WHERE id = ?", groupId))[0]!.name).toBe(
      "Test SCIMv2 renamed",
    );

    const added = await scim("PATCH", `/Groups/${groupId}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "add", path: "members", value: [{ value: userId, display: email }] }],
    });
    expect(added.status).toBe(204);
    const withMember = await scim("GET", `/Groups/${groupId}`, token);
    expect(withMember.body.members).toEqual([
      {
        value: userId,
        display: email,
        $ref: `http://127.0.0.1:8787/scim/v2/Users/${userId}`,
        type: "User",
      },
    ]);
    expect((await scim("GET", `/Users/${userId}`, token)).body.groups).toEqual([
      {
        value: groupId,
        display: "Test SCIMv2 renamed",
        $ref: `http://127.0.0.1:8787/scim/v2/Groups/${groupId}`,
        type: "direct",
      },
    ]);
    // Adding again changes nothing and records nothing.
    await scim("PATCH", `/Groups/${groupId}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "add", path: "members", value: [{ value: userId, display: email }] }],
    });

    const removed = await scim("PATCH", `/Groups/${groupId}`, token, {
      schemas: [PATCH],
      Operations: [{ op: "remove", path: `members[value eq "${userId}"]` }],
    });
    expect(removed.status).toBe(204);
    expect((await scim("GET", `/Groups/${groupId}`, token)).body.members).toEqual([]);
    expect(await rows("SELECT group_id FROM group_memberships WHERE user_id = ?", userId)).toEqual([
      { group_id: acct.membersId },
    ]);

    const page = await scim(
      "GET",
      "/Groups?excludedAttributes=members&startIndex=1&count=100",
      token,
    );
    expect(page.body).toMatchObject({ totalResults: 1, itemsPerPage: 1, startIndex: 1 });
    expect(page.body.Resources[0]).not.toHaveProperty("members");

    expect((await scim("DELETE", `/Groups/${groupId}`, token)).status).toBe(204);
    expect((await scim("GET", `/Groups/${groupId}`, token)).status).toBe(404);
    expect(await count("SELECT count(*) AS n FROM groups WHERE id = ?", groupId)).toBe(0);

    const groupEvents = await rows(
      "SELECT type, actor_type, actor_id, method FROM activity_events WHERE subject_id = ? ORDER BY rowid",
      groupId,
    );
    expect(groupEvents.map((e) => e.type)).toEqual([
      "group.created",
      "group.updated",
      "group.deleted",
    ]);
    const userEvents = await rows<{ type: string; metadata: string; actor_id: string }>(
      "SELECT type, metadata, actor_id FROM activity_events WHERE subject_id = ? AND type = 'user.groups_changed' ORDER BY rowid",
      userId,
    );
    expect(userEvents.map((e) => JSON.parse(e.metadata))).toEqual([
      { added: [groupId], removed: [] },
      { added: [], removed: [groupId] },
    ]);
    for (const e of [...groupEvents, ...userEvents]) expect(e.actor_id).toBe(tokenId);

    // Okta can also delete the user.
    expect((await scim("DELETE", `/Users/${userId}`, token)).status).toBe(204);
    expect((await scim("GET", `/Users/${userId}`, token)).status).toBe(404);
    expect(await count("SELECT count(*) AS n FROM users WHERE id = ?", userId)).toBe(0);
  });

  it("answers with application/scim+json, and takes application/json bodies too", async () => {
    const acct = await createAccount();
    const { token } = await createScimToken(acct);
    const email = uniqueEmail("json");
    const res = await call("POST", "/scim/v2/Users", {
      token,
      body: { schemas: [USER], userName: email },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(
      new RegExp(`^${SCIM_JSON.replace("+", "\\+")}`),
    );
    expect(res.body).toMatchObject({ userName: email, name: { givenName: "", familyName: "" } });
  });
});

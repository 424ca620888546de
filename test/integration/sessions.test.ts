/** Sessions: the user's own list and ending them; an administrator's view of a user's. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  expectProblem,
  freshIp,
  PASSWORD,
  rows,
  type TestAccount,
} from "../helpers";

const DAY = 24 * 60 * 60 * 1000;

afterEach(() => {
  clock.offsetMs = 0;
});

const sessionIdOf = async (token: string) =>
  (await call("GET", "/v1/me", { token })).body.authenticated_via.id as string;

const revokedAt = async (id: string) =>
  (await rows("SELECT revoked_at FROM sessions WHERE id = ?", id))[0]!.revoked_at;

const revokedEvents = (userId: string) =>
  rows(
    "SELECT actor_id, metadata FROM activity_events WHERE type = 'user.sessions_revoked' AND subject_id = ? ORDER BY occurred_at, id",
    userId,
  );

/** A user logged in three times, from three addresses. */
async function threeSessions(acct: TestAccount) {
  const user = await createUser(acct);
  const logins = [];
  for (const agent of ["phone", "laptop", "tablet"]) {
    const res = await call("POST", "/v1/auth/login", {
      body: { email: user.email, password: PASSWORD },
      ip: freshIp(),
      headers: { "user-agent": agent },
    });
    expect(res.status).toBe(200);
    logins.push({ ...res.body, sid: await sessionIdOf(res.body.access_token) });
  }
  return { user, logins };
}

const apiToken = async (token: string, permissions: string[]) => {
  const res = await call("POST", "/v1/api-tokens", {
    token,
    body: { name: `t-${Date.now()}`, permissions },
  });
  expect(res.status).toBe(201);
  return res.body.token as string;
};

describe("GET /v1/me/sessions", () => {
  it("lists the caller's live sessions, marking the current one; ended ones are not listed", async () => {
    const acct = await createAccount();
    const { user, logins } = await threeSessions(acct);
    const [phone, laptop, tablet] = logins;
    // One ended by logout; the first (createUser's login) left idle past a week.
    expect((await call("POST", "/v1/auth/logout", { token: tablet.access_token })).status).toBe(
      204,
    );
    await env.DB.prepare("UPDATE sessions SET last_used_at = ? WHERE id = ?")
      .bind(Date.now() - 8 * DAY, await sessionIdOf(user.token))
      .run();

    const res = await call("GET", "/v1/me/sessions", { token: laptop.access_token });
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.data).toEqual([
      {
        id: phone.sid,
        created_at: expect.any(String),
        last_used_at: expect.any(String),
        ip: expect.stringMatching(/^198\.18\./),
        user_agent: "phone",
        current: false,
      },
      expect.objectContaining({ id: laptop.sid, user_agent: "laptop", current: true }),
    ]);
    const stored = (await rows("SELECT * FROM sessions WHERE id = ?", phone.sid))[0]!;
    expect(res.body.data[0]).toMatchObject({
      created_at: new Date(stored.created_at).toISOString(),
      last_used_at: new Date(stored.last_used_at).toISOString(),
      ip: stored.ip,
    });

    const paged = await call("GET", "/v1/me/sessions?limit=1", { token: laptop.access_token });
    expect(paged.body.data.map((s: any) => s.id)).toEqual([phone.sid]);
    const next = await call("GET", `/v1/me/sessions?limit=1&cursor=${paged.body.next_cursor}`, {
      token: laptop.access_token,
    });
    expect(next.body.data.map((s: any) => s.id)).toEqual([laptop.sid]);
    expect(next.body.next_cursor).toBeNull();
  });

  it("needs a login session and valid paging", async () => {
    const acct = await createAccount();
    const token = await apiToken(acct.token, ["users:read"]);
    expectProblem(await call("GET", "/v1/me/sessions", { token }), 403, "forbidden");
    expectProblem(await call("GET", "/v1/me/sessions"), 401, "unauthorized");
    expectProblem(
      await call("GET", "/v1/me/sessions?limit=0", { token: acct.token }),
      422,
      "validation_failed",
    );
    expectProblem(
      await call("GET", "/v1/me/sessions?cursor=%%%", { token: acct.token }),
      422,
      "validation_failed",
    );
  });
});

describe("DELETE /v1/me/sessions/{id}", () => {
  it("ends one of the caller's sessions: its tokens die at once, the event is recorded", async () => {
    const acct = await createAccount();
    const { user, logins } = await threeSessions(acct);
    const [phone, laptop] = logins;
    const res = await call("DELETE", `/v1/me/sessions/${phone.sid}`, {
      token: laptop.access_token,
    });
    expect(res.status).toBe(204);
    expect(await revokedAt(phone.sid)).toEqual(expect.any(Number));
    expectProblem(await call("GET", "/v1/me", { token: phone.access_token }), 401, "unauthorized");
    expectProblem(
      await call("POST", "/v1/auth/refresh", { body: { refresh_token: phone.refresh_token } }),
      401,
      "invalid_refresh_token",
    );
    expect((await call("GET", "/v1/me", { token: laptop.access_token })).status).toBe(200);
    const events = await revokedEvents(user.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.actor_id).toBe(user.id);
    expect(JSON.parse(events[0]!.metadata)).toEqual({ session_id: phone.sid });

    // Already ended: 404, nothing more recorded.
    expectProblem(
      await call("DELETE", `/v1/me/sessions/${phone.sid}`, { token: laptop.access_token }),
      404,
      "not_found",
    );
    expect(await revokedEvents(user.id)).toHaveLength(1);
  });

  it("answers 404 for another user's session, in this account or another, and unknown ids", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const { logins } = await threeSessions(acct);
    const neighbour = await createUser(acct);
    const neighbourSid = await sessionIdOf(neighbour.token);
    const stranger = await sessionIdOf(other.token);
    for (const id of [neighbourSid, stranger, "ses_01h455vb4pex5vsknk084sn02q", "nonsense"]) {
      expectProblem(
        await call("DELETE", `/v1/me/sessions/${id}`, { token: logins[0].access_token }),
        404,
        "not_found",
      );
    }
    expect(await revokedAt(neighbourSid)).toBeNull();
    expect(await revokedAt(stranger)).toBeNull();
    expect((await call("GET", "/v1/me", { token: neighbour.token })).status).toBe(200);
    expect((await call("GET", "/v1/me", { token: other.token })).status).toBe(200);
  });

  it("an API token cannot end its owner's sessions", async () => {
    const acct = await createAccount();
    const token = await apiToken(acct.token, ["users:write"]);
    const sid = await sessionIdOf(acct.token);
    expectProblem(await call("DELETE", `/v1/me/sessions/${sid}`, { token }), 403, "forbidden");
    expectProblem(await call("DELETE", "/v1/me/sessions", { token }), 403, "forbidden");
    expect(await revokedAt(sid)).toBeNull();
  });
});

describe("DELETE /v1/me/sessions", () => {
  it("ends every session of the caller but the current one", async () => {
    const acct = await createAccount();
    const { user, logins } = await threeSessions(acct);
    const [phone, laptop, tablet] = logins;
    const res = await call("DELETE", "/v1/me/sessions", { token: laptop.access_token });
    expect(res.status).toBe(204);
    const live = await rows(
      "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL",
      user.id,
    );
    expect(live.map((s) => s.id)).toEqual([laptop.sid]);
    for (const s of [phone, tablet])
      expectProblem(await call("GET", "/v1/me", { token: s.access_token }), 401, "unauthorized");
    expect((await call("GET", "/v1/me", { token: laptop.access_token })).status).toBe(200);
    // Other users' sessions are untouched.
    expect((await call("GET", "/v1/me", { token: acct.token })).status).toBe(200);
    const events = await revokedEvents(user.id);
    expect(events.map((e) => JSON.parse(e.metadata))).toEqual([{ scope: "others" }]);

    // Nothing left to end: still 204, and no event for nothing.
    expect((await call("DELETE", "/v1/me/sessions", { token: laptop.access_token })).status).toBe(
      204,
    );
    expect(await revokedEvents(user.id)).toHaveLength(1);
  });
});

describe("an administrator and a user's sessions", () => {
  it("lists and ends them with users:write; the event names the administrator", async () => {
    const acct = await createAccount();
    const { user, logins } = await threeSessions(acct);
    const listed = await call("GET", `/v1/users/${user.id}/sessions`, { token: acct.token });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((s: any) => s.id)).toEqual([
      await sessionIdOf(user.token),
      ...logins.map((l) => l.sid),
    ]);
    expect(listed.body.data.every((s: any) => s.current === false)).toBe(true);

    const ended = await call("DELETE", `/v1/users/${user.id}/sessions`, { token: acct.token });
    expect(ended.status).toBe(204);
    expect(
      await count(
        "SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL",
        user.id,
      ),
    ).toBe(0);
    for (const l of logins)
      expectProblem(await call("GET", "/v1/me", { token: l.access_token }), 401, "unauthorized");
    const events = await revokedEvents(user.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.actor_id).toBe(acct.adminId);
    expect(JSON.parse(events[0]!.metadata)).toEqual({ scope: "all" });
    expect(
      (await call("GET", `/v1/users/${user.id}/sessions`, { token: acct.token })).body.data,
    ).toEqual([]);
  });

  it("needs users:write; a user holding more is 403 permission_not_held; changes nothing", async () => {
    const acct = await createAccount();
    const readers = await createGroup(acct, [{ permission: "users:read" }]);
    const reader = await createUser(acct, { groupIds: [readers] });
    const writers = await createGroup(acct, [{ permission: "users:write" }]);
    const writer = await createUser(acct, { groupIds: [writers] });
    const adminSid = await sessionIdOf(acct.token);
    const target = `/v1/users/${acct.adminId}/sessions`;

    expectProblem(await call("GET", target, { token: reader.token }), 403, "forbidden");
    expectProblem(await call("DELETE", target, { token: reader.token }), 403, "forbidden");
    // The administrator holds more than users:write.
    expectProblem(await call("GET", target, { token: writer.token }), 403, "permission_not_held");
    expectProblem(
      await call("DELETE", target, { token: writer.token }),
      403,
      "permission_not_held",
    );
    expect(await revokedAt(adminSid)).toBeNull();
    expect(await revokedEvents(acct.adminId)).toEqual([]);
    // A peer holding no more than the writer is fine.
    const peer = await createUser(acct, { groupIds: [writers] });
    expect(
      (await call("DELETE", `/v1/users/${peer.id}/sessions`, { token: writer.token })).status,
    ).toBe(204);
    expectProblem(await call("GET", "/v1/me", { token: peer.token }), 401, "unauthorized");
  });

  it("answers 404 for another account's user and unknown ids, and 422 for bad paging", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const otherSid = await sessionIdOf(other.token);
    for (const id of [other.adminId, "usr_01h455vb4pex5vsknk084sn02q", "nonsense"]) {
      const path = `/v1/users/${id}/sessions`;
      expectProblem(await call("GET", path, { token: acct.token }), 404, "not_found");
      expectProblem(await call("DELETE", path, { token: acct.token }), 404, "not_found");
    }
    expect(await revokedAt(otherSid)).toBeNull();
    expect(await revokedEvents(other.adminId)).toEqual([]);
    expectProblem(
      await call("GET", `/v1/users/${acct.adminId}/sessions?limit=500`, { token: acct.token }),
      422,
      "validation_failed",
    );
  });
});

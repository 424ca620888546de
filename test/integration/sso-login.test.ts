/**
 * Team Login end to end inside workerd, against a real oidc-provider: start, the IdP's own
 * sign-in, the callback; linking and just-in-time provisioning with the group mapping;
 * every refusal a 4xx that provisions nobody; the one-time code exchange; sso_required.
 */
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
  login,
  PASSWORD,
  PLATFORM_TOKEN,
  rows,
  runCron,
  uniqueEmail,
} from "../helpers";
import { atIdp, connect, newDomain, ssoLogin, start } from "../sso-helpers";

afterEach(() => {
  clock.offsetMs = 0;
});

let subs = 0;
const sub = () => `sub-${Date.now().toString(36)}-${++subs}`;
const usersWithEmail = (email: string) =>
  count("SELECT count(*) AS n FROM users WHERE email = ?", email);
const groupsOf = (userId: string) =>
  rows<{ group_id: string }>(
    "SELECT group_id FROM group_memberships WHERE user_id = ? ORDER BY group_id",
    userId,
  ).then((r) => r.map((m) => m.group_id));

async function setup(overrides: Record<string, unknown> = {}) {
  const admin = await createAccount();
  const domain = newDomain();
  const eng = await createGroup(admin, [{ permission: "users:read" }], "Engineering");
  const ops = await createGroup(admin, [{ permission: "groups:read" }], "Operations");
  await connect(admin, domain, { group_mapping: { eng: [eng], ops: [ops] }, ...overrides });
  return { admin, domain, eng, ops };
}

describe("a first login", () => {
  it("provisions just in time into the default and mapped groups, and answers tokens", async () => {
    const admin = await createAccount();
    const domain = newDomain();
    const eng = await createGroup(admin, [{ permission: "users:read" }], "Engineering");
    const base = await createGroup(admin, [{ permission: "groups:read" }], "Everyone");
    await connect(admin, domain, {
      jit: { enabled: true, default_group_ids: [base] },
      group_mapping: { eng: [eng] },
    });
    const email = `Ann.Lee@${domain.toUpperCase()}`;
    const { res } = await ssoLogin(
      `email=${encodeURIComponent(email)}`,
      { sub: sub(), email, groups: ["eng", "unmapped"] },
      { ip: "203.0.113.7", headers: { "user-agent": "sso-test/1.0" } },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get("set-cookie")).toMatch(/^__Host-sso_state=; .*Max-Age=0/);
    const user = res.body.user;
    expect(user).toMatchObject({
      email: email.toLowerCase(),
      account_id: admin.accountId,
      created_via: "sso",
      last_login_method: "sso",
      last_login_ip: "203.0.113.7",
    });
    expect(user.group_ids.sort()).toEqual([admin.membersId, base, eng].sort());
    expect(res.body).toMatchObject({ token_type: "Bearer", must_change_password: false });
    // The tokens work.
    const me = await call("GET", "/v1/me", { token: res.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(user.id);
    const [row] = await rows("SELECT * FROM users WHERE id = ?", user.id);
    expect(row).toMatchObject({ password_hash: null, created_via: "sso" });
    expect(await count("SELECT count(*) AS n FROM sso_identities WHERE user_id = ?", user.id)).toBe(
      1,
    );
    const [session] = await rows("SELECT * FROM sessions WHERE user_id = ?", user.id);
    expect(session).toMatchObject({ method: "sso", ip: "203.0.113.7" });
    const created = await rows(
      "SELECT * FROM activity_events WHERE subject_id = ? AND type = 'user.created'",
      user.id,
    );
    expect(JSON.parse(created[0]!.metadata)).toMatchObject({ created_via: "sso" });
  });

  it("starts from the account id as well as from the email", async () => {
    const { admin, domain } = await setup();
    const { res } = await ssoLogin(`account_id=${admin.accountId}`, {
      sub: sub(),
      email: `bo@${domain}`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.user.email).toBe(`bo@${domain}`);
  });

  it("links an existing user of the account with the same verified email, and re-maps on every login", async () => {
    const { admin, domain, eng, ops } = await setup();
    const byHand = await createGroup(admin, [{ permission: "users:read" }], "Given by hand");
    const existing = await createUser(admin, { email: `cy@${domain}`, groupIds: [eng, byHand] });
    const identity = { sub: sub(), email: `cy@${domain}`, groups: ["ops"] };
    const first = await ssoLogin(`email=cy@${domain}`, identity);
    expect(first.res.status, JSON.stringify(first.res.body)).toBe(200);
    expect(first.res.body.user.id).toBe(existing.id);
    // eng came from the mapping's groups and the claim lacks it: gone; ops added; byHand stays.
    expect(await groupsOf(existing.id)).toEqual([admin.membersId, byHand, ops].sort());
    expect(await usersWithEmail(`cy@${domain}`)).toBe(1);

    const second = await ssoLogin(`email=cy@${domain}`, { ...identity, groups: ["eng"] });
    expect(second.res.status).toBe(200);
    expect(await groupsOf(existing.id)).toEqual([admin.membersId, byHand, eng].sort());
    const changes = await rows(
      "SELECT metadata FROM activity_events WHERE subject_id = ? AND type = 'user.groups_changed'",
      existing.id,
    );
    expect(changes).toHaveLength(2);
  });
});

describe("refusals change nothing", () => {
  it("refuses an unverified email, an email outside the domains, and JIT when it is off", async () => {
    const { domain } = await setup();
    const unverified = await ssoLogin(`email=dee@${domain}`, {
      sub: sub(),
      email: `dee@${domain}`,
      email_verified: false,
    });
    expectProblem(unverified.res, 403, "sso_email_unverified");
    expect(await usersWithEmail(`dee@${domain}`)).toBe(0);

    const outside = await ssoLogin(`email=dee@${domain}`, {
      sub: sub(),
      email: "dee@elsewhere.example",
    });
    expectProblem(outside.res, 403, "sso_domain_mismatch");
    expect(await usersWithEmail("dee@elsewhere.example")).toBe(0);

    const off = await setup({ jit: { enabled: false, default_group_ids: [] } });
    const noJit = await ssoLogin(`email=eve@${off.domain}`, {
      sub: sub(),
      email: `eve@${off.domain}`,
    });
    expectProblem(noJit.res, 403, "sso_jit_disabled");
    expect(await usersWithEmail(`eve@${off.domain}`)).toBe(0);
  });

  it("never links an email of another account (409) and refuses a disabled user", async () => {
    const { admin, domain } = await setup();
    const other = await createAccount();
    const elsewhere = await createUser(other, { email: `fay@${domain}` });
    const taken = await ssoLogin(`email=fay@${domain}`, { sub: sub(), email: `fay@${domain}` });
    expectProblem(taken.res, 409, "email_taken");
    expect(
      await count("SELECT count(*) AS n FROM sso_identities WHERE user_id = ?", elsewhere.id),
    ).toBe(0);

    const gus = await createUser(admin, { email: `gus@${domain}` });
    const disabled = await call("PATCH", `/v1/users/${gus.id}`, {
      token: admin.token,
      body: { status: "disabled" },
    });
    expect(disabled.status).toBe(200);
    const refused = await ssoLogin(`email=gus@${domain}`, { sub: sub(), email: `gus@${domain}` });
    expectProblem(refused.res, 403, "user_disabled");
    expect(
      await count(
        "SELECT count(*) AS n FROM sessions WHERE user_id = ? AND method = 'sso'",
        gus.id,
      ),
    ).toBe(0);
  });

  it("links a user by email only within the authority of whoever saved the connection", async () => {
    const admin = await createAccount();
    const domain = newDomain();
    const ssoManagers = await createGroup(admin, [{ permission: "sso:manage" }]);
    const manager = await createUser(admin, { groupIds: [ssoManagers] });
    const boss = await createUser(admin, {
      email: `boss@${domain}`,
      groupIds: [admin.administratorsId],
    });
    // An sso:manage holder points the account at an IdP that vouches for the administrator.
    await connect({ ...admin, token: manager.token }, domain);
    const identity = { sub: sub(), email: `boss@${domain}` };
    const refused = await ssoLogin(`email=boss@${domain}`, identity);
    expectProblem(refused.res, 403, "permission_not_held");
    expect(await count("SELECT count(*) AS n FROM sso_identities WHERE user_id = ?", boss.id)).toBe(
      0,
    );
    expect(await count("SELECT count(*) AS n FROM sessions WHERE user_id = ?", boss.id)).toBe(1);

    // Once an administrator saves the same connection, the administrator's login links.
    await connect(admin, domain);
    const linked = await ssoLogin(`email=boss@${domain}`, identity);
    expect(linked.res.status, JSON.stringify(linked.res.body)).toBe(200);
    expect(linked.res.body.user.id).toBe(boss.id);
  });

  it("refuses a forged, a replayed or an unbound state, and an IdP error", async () => {
    const { domain } = await setup();
    const forged = await call("GET", "/v1/sso/callback?state=forged&code=abc");
    expectProblem(forged, 400, "sso_state_invalid");
    expectProblem(await call("GET", "/v1/sso/callback"), 400, "sso_state_invalid");

    const ok = await ssoLogin(`email=hal@${domain}`, { sub: sub(), email: `hal@${domain}` });
    expect(ok.res.status).toBe(200);
    const replayed = await call("GET", ok.callback, { headers: { cookie: ok.cookie } });
    expectProblem(replayed, 400, "sso_state_invalid");

    // The right state from another browser (no cookie, or another one's) is refused.
    const started = await start(`email=ida@${domain}`);
    const callback = await atIdp(started.location, { sub: sub(), email: `ida@${domain}` });
    expectProblem(
      await call("GET", callback, { headers: { cookie: "__Host-sso_state=someone-else" } }),
      400,
      "sso_state_invalid",
    );
    // …and that consumed it: single use, even for the right browser afterwards.
    expectProblem(
      await call("GET", callback, { headers: { cookie: started.cookie } }),
      400,
      "sso_state_invalid",
    );
    expect(await usersWithEmail(`ida@${domain}`)).toBe(0);

    const again = await start(`email=ida@${domain}`);
    const state = new URL(again.location).searchParams.get("state")!;
    const denied = await call(
      "GET",
      `/v1/sso/callback?state=${state}&error=access_denied&error_description=no`,
      { headers: { cookie: again.cookie } },
    );
    expectProblem(denied, 400, "sso_idp_error");

    // A state older than ten minutes is refused even if KV still had it.
    const late = await start(`email=ida@${domain}`);
    const lateCallback = await atIdp(late.location, { sub: sub(), email: `ida@${domain}` });
    clock.offsetMs = 11 * 60 * 1000;
    expectProblem(
      await call("GET", lateCallback, { headers: { cookie: late.cookie } }),
      400,
      "sso_state_invalid",
    );
    expect(await usersWithEmail(`ida@${domain}`)).toBe(0);
  });

  it("refuses a wrong nonce", async () => {
    const { domain } = await setup();
    const started = await start(`email=jo@${domain}`);
    const tampered = new URL(started.location);
    tampered.searchParams.set("nonce", "not-the-nonce-the-service-kept");
    const callback = await atIdp(tampered.toString(), { sub: sub(), email: `jo@${domain}` });
    const res = await call("GET", callback, { headers: { cookie: started.cookie } });
    expectProblem(res, 400, "sso_idp_error");
    expect(await usersWithEmail(`jo@${domain}`)).toBe(0);
  });

  it("refuses a code the IdP issued to another client", async () => {
    const { domain } = await setup();
    const started = await start(`email=pia@${domain}`);
    const tampered = new URL(started.location);
    tampered.searchParams.set("client_id", "um-other-client");
    const callback = await atIdp(tampered.toString(), { sub: sub(), email: `pia@${domain}` });
    const res = await call("GET", callback, { headers: { cookie: started.cookie } });
    expectProblem(res, 400, "sso_idp_error");
    expect(await usersWithEmail(`pia@${domain}`)).toBe(0);
  });

  it("refuses JIT in a full account with capacity_exceeded", async () => {
    const { admin, domain } = await setup();
    const limited = await call("PATCH", `/v1/platform/accounts/${admin.accountId}`, {
      token: PLATFORM_TOKEN,
      body: { user_limit: 1 },
    });
    expect(limited.status, JSON.stringify(limited.body)).toBe(200);
    const { res } = await ssoLogin(`email=kim@${domain}`, { sub: sub(), email: `kim@${domain}` });
    expectProblem(res, 409, "capacity_exceeded");
    expect(await usersWithEmail(`kim@${domain}`)).toBe(0);
  });

  it("answers problems for bad starts", async () => {
    const { admin, domain } = await setup();
    expectProblem(
      await call("GET", "/v1/sso/start?email=x@nowhere.example"),
      404,
      "sso_not_configured",
    );
    expectProblem(
      await call("GET", "/v1/sso/start?account_id=acct_nope"),
      404,
      "sso_not_configured",
    );
    const bare = await createAccount();
    expectProblem(
      await call("GET", `/v1/sso/start?account_id=${bare.accountId}`),
      404,
      "sso_not_configured",
    );
    expectProblem(await call("GET", "/v1/sso/start"), 422, "validation_failed");
    expectProblem(
      await call("GET", `/v1/sso/start?email=x@${domain}&account_id=${admin.accountId}`),
      422,
      "validation_failed",
    );
    for (const target of [
      "https://evil.example/back",
      "javascript:alert(1)",
      "//evil.example",
      "https://dashboard.example.evil.example/",
    ]) {
      expectProblem(
        await call(
          "GET",
          `/v1/sso/start?email=x@${domain}&redirect_to=${encodeURIComponent(target)}`,
        ),
        400,
        "sso_redirect_invalid",
      );
    }
  });
});

describe("redirect_to and POST /v1/auth/exchange", () => {
  it("sends a one-time code to the console, never tokens, and the code works once", async () => {
    const { domain } = await setup();
    const back = "https://dashboard.example/sso/done?tab=1";
    const { res } = await ssoLogin(`email=lu@${domain}&redirect_to=${encodeURIComponent(back)}`, {
      sub: sub(),
      email: `lu@${domain}`,
      groups: ["eng"],
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin + location.pathname).toBe("https://dashboard.example/sso/done");
    expect(location.searchParams.get("tab")).toBe("1");
    const code = location.searchParams.get("code")!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect([...location.searchParams.keys()].sort()).toEqual(["code", "tab"]);
    expect(location.toString()).not.toContain("lu%40");

    const results = await Promise.all(
      Array.from({ length: 8 }, () => call("POST", "/v1/auth/exchange", { body: { code } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
    const won = results.find((r) => r.status === 200)!;
    expect(won.body.user.email).toBe(`lu@${domain}`);
    for (const r of results.filter((x) => x.status !== 200))
      expectProblem(r, 400, "sso_code_invalid");
    expect(
      await count("SELECT count(*) AS n FROM sessions WHERE user_id = ?", won.body.user.id),
    ).toBe(1);
  });

  it("expires the code after a minute, and refuses unknown codes", async () => {
    const { domain } = await setup();
    const { res } = await ssoLogin(
      `email=max@${domain}&redirect_to=${encodeURIComponent("http://127.0.0.1:8787/console")}`,
      { sub: sub(), email: `max@${domain}` },
    );
    expect(res.status).toBe(302);
    const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
    clock.offsetMs = 61 * 1000;
    expectProblem(
      await call("POST", "/v1/auth/exchange", { body: { code } }),
      400,
      "sso_code_invalid",
    );
    // The cron sweeps codes that can no longer be exchanged.
    const codes = () =>
      count(
        "SELECT count(*) AS n FROM sso_login_codes c JOIN users u ON u.id = c.user_id WHERE u.email = ?",
        `max@${domain}`,
      );
    expect(await codes()).toBe(1);
    await runCron();
    expect(await codes()).toBe(0);
    expectProblem(
      await call("POST", "/v1/auth/exchange", { body: { code: "nope" } }),
      400,
      "sso_code_invalid",
    );
    expectProblem(await call("POST", "/v1/auth/exchange", { body: {} }), 422, "validation_failed");
  });

  it("sends errors known after the state back to the console as ?error=<code>", async () => {
    const { domain } = await setup();
    const { res } = await ssoLogin(
      `email=ned@${domain}&redirect_to=${encodeURIComponent("https://admin.example/back")}`,
      { sub: sub(), email: `ned@${domain}`, email_verified: false },
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin).toBe("https://admin.example");
    expect([...location.searchParams]).toEqual([["error", "sso_email_unverified"]]);
    expect(await usersWithEmail(`ned@${domain}`)).toBe(0);
  });
});

describe("sso_required", () => {
  async function required() {
    const s = await setup();
    const member = await createUser(s.admin, { email: `ola@${s.domain}` });
    // The administrator in the domain, for the break-glass.
    const boss = await createUser(s.admin, {
      email: `boss@${s.domain}`,
      groupIds: [s.admin.administratorsId],
    });
    await connect(s.admin, s.domain, { sso_required: true });
    return { ...s, member, boss };
  }
  const passwordLogin = (email: string, password = PASSWORD) =>
    call("POST", "/v1/auth/login", { body: { email, password }, ip: freshIp() });

  it("blocks password login for the domain, with a start_url, but not an administrator's", async () => {
    const { domain, boss } = await required();
    for (const [email, password] of [
      [`ola@${domain}`, PASSWORD],
      [`ola@${domain}`, "wrong password entirely"],
      [`nobody@${domain}`, PASSWORD],
      [`boss@${domain}`, "wrong password entirely"],
    ]) {
      const res = await passwordLogin(email!, password);
      expectProblem(res, 403, "sso_required");
      expect(res.body.start_url).toBe(
        `http://127.0.0.1:8787/v1/sso/start?email=${encodeURIComponent(email!)}`,
      );
    }
    const breakGlass = await passwordLogin(boss.email);
    expect(breakGlass.status, JSON.stringify(breakGlass.body)).toBe(200);
    expect(breakGlass.body.user.id).toBe(boss.id);
  });

  it("still counts refused guesses for throttling", async () => {
    const { domain } = await required();
    const ip = freshIp();
    const answers = [];
    for (let i = 0; i < 12; i++) {
      answers.push(
        (
          await call("POST", "/v1/auth/login", {
            body: { email: `boss@${domain}`, password: `guess ${i} long enough` },
            ip,
          })
        ).status,
      );
    }
    expect(answers).toContain(429);
  });

  it("refuses forgot-password for the domain whether or not the user exists, and invitations", async () => {
    const { admin, domain } = await required();
    for (const email of [`ola@${domain}`, `ghost@${domain}`]) {
      const res = await call("POST", "/v1/password/forgot", { body: { email }, ip: freshIp() });
      expectProblem(res, 403, "sso_required");
    }
    const invited = await call("POST", "/v1/invitations", {
      token: admin.token,
      body: { email: `new@${domain}` },
    });
    expectProblem(invited, 403, "sso_required");
    expect(invited.body.start_url).toContain("/v1/sso/start?email=");
    expect(
      await count("SELECT count(*) AS n FROM invitations WHERE email = ?", `new@${domain}`),
    ).toBe(0);
    // Other domains are untouched.
    const elsewhere = await call("POST", "/v1/invitations", {
      token: admin.token,
      body: { email: uniqueEmail("free") },
    });
    expect(elsewhere.status).toBe(201);
  });

  it("stops applying when the plan loses Team Login", async () => {
    const { admin, member } = await required();
    await call("PATCH", `/v1/platform/accounts/${admin.accountId}`, {
      token: PLATFORM_TOKEN,
      body: { plan: "business" },
    });
    expect((await login(member.email)).user.id).toBe(member.id);
  });
});

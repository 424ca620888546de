/**
 * Team Login end to end: a real local worker (wrangler's unstable_startWorker) and a real
 * OpenID Provider (oidc-provider, in Node) whose development sign-in form is driven over
 * HTTP like a browser would. Covers provisioning and re-mapping, the refusals (forged and
 * replayed state, wrong nonce, a full account), sso_required with the administrators'
 * break-glass, and the console's redirect_to + POST /v1/auth/exchange path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedIdpUser, setCookies, signInAtIdp } from "../oidc/idp-login";
import { type StartedIdp, startIdp } from "../oidc/provider";
import { api, newAccount, PLATFORM_TOKEN, type StartedWorker, startWorker } from "./harness";

const CLIENT_ID = "e2e-worker";
const CLIENT_SECRET = "e2e-worker-client-secret";
const CONSOLE = "https://console.e2e.example";

let worker: StartedWorker;
let idp: StartedIdp;
let callbackUri: string;

beforeAll(async () => {
  worker = await startWorker({ vars: { CORS_ORIGINS: CONSOLE } });
  callbackUri = `${worker.url}/v1/sso/callback`;
  idp = await startIdp([
    { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [callbackUri] },
  ]);
});

afterAll(async () => {
  await idp?.close();
  await worker?.dispose();
});

let seq = 0;
const label = () => `${Date.now().toString(36)}-${++seq}`;

async function enterprise() {
  const admin = await newAccount(worker.url, { name: `SSO ${label()}`, plan: "enterprise" });
  const call = (method: string, route: string, body?: unknown) =>
    api(worker.url, method, route, { token: admin.token, body });
  const group = async (name: string) => {
    const res = await call("POST", "/v1/groups", {
      name,
      grants: [{ permission: "users:read" }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  const groups = (await call("GET", "/v1/groups")).body.data as { id: string; name: string }[];
  const builtin = (name: string) => groups.find((g) => g.name === name)!.id;
  return {
    admin,
    call,
    group,
    administrators: builtin("Administrators"),
    members: builtin("Members"),
  };
}

async function connect(
  acct: Awaited<ReturnType<typeof enterprise>>,
  domain: string,
  extra: Record<string, unknown> = {},
) {
  const res = await acct.call("PUT", "/v1/sso/connection", {
    issuer: idp.issuer,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    domains: [domain],
    jit: { enabled: true, default_group_ids: [] },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.redirect_uri).toBe(callbackUri);
}

/** GET /v1/sso/start without following: the IdP URL and the browser's state cookie. */
async function start(query: string) {
  const res = await fetch(`${worker.url}/v1/sso/start?${query}`, { redirect: "manual" });
  expect(res.status, await res.clone().text()).toBe(302);
  const cookie = setCookies(res.headers)
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith("__Host-sso_state="))!;
  expect(setCookies(res.headers).join()).toMatch(/Secure; HttpOnly; Path=\/; SameSite=Lax/);
  return { location: res.headers.get("location")!, cookie };
}

async function callback(url: string, cookie?: string) {
  const res = await fetch(url, {
    redirect: "manual",
    headers: cookie ? { cookie } : {},
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body:
      text && (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text,
  };
}

interface Person {
  sub: string;
  email: string;
  groups: string[];
  email_verified?: boolean;
}

async function atIdp(location: string, person: Person) {
  await seedIdpUser(idp.issuer, person.sub, {
    email: person.email,
    email_verified: person.email_verified ?? true,
    groups: person.groups,
  });
  return signInAtIdp(location, person.sub, callbackUri);
}

async function ssoLogin(query: string, person: Person) {
  const started = await start(query);
  const back = await atIdp(started.location, person);
  return { ...(await callback(back, started.cookie)), back, cookie: started.cookie };
}

const usersNamed = async (acct: Awaited<ReturnType<typeof enterprise>>, email: string) =>
  ((await acct.call("GET", `/v1/users?q=${encodeURIComponent(email)}`)).body.data as any[]).filter(
    (u) => u.email === email,
  );

describe("Team Login against a real OpenID Provider", () => {
  it("provisions into the mapped groups, then re-maps on the next login, keeping hand-given groups", async () => {
    const acct = await enterprise();
    const domain = `e2e-${label()}.example`;
    const [eng, ops, byHand] = await Promise.all([
      acct.group("Engineering"),
      acct.group("Operations"),
      acct.group("Given by hand"),
    ]);
    await connect(acct, domain, { group_mapping: { eng: [eng], ops: [ops] } });
    const person = { sub: `ann-${label()}`, email: `ann@${domain}`, groups: ["eng"] };

    const first = await ssoLogin(`email=${person.email}`, person);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const user = first.body.user;
    expect(user).toMatchObject({ email: person.email, created_via: "sso" });
    expect(user.group_ids.sort()).toEqual([acct.members, eng].sort());
    const me = await api(worker.url, "GET", "/v1/me", { token: first.body.access_token });
    expect(me.status).toBe(200);

    const given = await acct.call("PUT", `/v1/users/${user.id}/groups`, {
      group_ids: [...user.group_ids, byHand],
    });
    expect(given.status, JSON.stringify(given.body)).toBe(200);

    const second = await ssoLogin(`email=${person.email}`, { ...person, groups: ["ops"] });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.user.id).toBe(user.id);
    expect(second.body.user.group_ids.sort()).toEqual([acct.members, ops, byHand].sort());
    expect(await usersNamed(acct, person.email)).toHaveLength(1);
  });

  it("refuses a forged state, a replayed state and a wrong nonce, provisioning nobody", async () => {
    const acct = await enterprise();
    const domain = `e2e-${label()}.example`;
    await connect(acct, domain);

    const forged = await callback(`${callbackUri}?state=forged-state&code=forged-code`);
    expect(forged.status).toBe(400);
    expect(forged.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(forged.body.code).toBe("sso_state_invalid");

    // A state taken from a real start but sent without the browser's cookie.
    const stolen = await start(`email=bo@${domain}`);
    const stolenBack = await atIdp(stolen.location, {
      sub: `bo-${label()}`,
      email: `bo@${domain}`,
      groups: [],
    });
    expect((await callback(stolenBack)).body.code).toBe("sso_state_invalid");
    expect(await usersNamed(acct, `bo@${domain}`)).toHaveLength(0);

    const ok = await ssoLogin(`email=cy@${domain}`, {
      sub: `cy-${label()}`,
      email: `cy@${domain}`,
      groups: [],
    });
    expect(ok.status).toBe(200);
    const replayed = await callback(ok.back, ok.cookie);
    expect(replayed.status).toBe(400);
    expect(replayed.body.code).toBe("sso_state_invalid");

    const started = await start(`email=dee@${domain}`);
    const tampered = new URL(started.location);
    tampered.searchParams.set("nonce", "a-nonce-the-service-never-issued");
    const back = await atIdp(tampered.toString(), {
      sub: `dee-${label()}`,
      email: `dee@${domain}`,
      groups: [],
    });
    const wrongNonce = await callback(back, started.cookie);
    expect(wrongNonce.status).toBe(400);
    expect(wrongNonce.body.code).toBe("sso_idp_error");
    expect(await usersNamed(acct, `dee@${domain}`)).toHaveLength(0);
  });

  it("refuses to provision into a full account with capacity_exceeded", async () => {
    const acct = await enterprise();
    const domain = `e2e-${label()}.example`;
    await connect(acct, domain);
    const limited = await api(
      worker.url,
      "PATCH",
      `/v1/platform/accounts/${acct.admin.account.id}`,
      {
        token: PLATFORM_TOKEN,
        body: { user_limit: 1 },
      },
    );
    expect(limited.status, JSON.stringify(limited.body)).toBe(200);
    const res = await ssoLogin(`email=eve@${domain}`, {
      sub: `eve-${label()}`,
      email: `eve@${domain}`,
      groups: [],
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("capacity_exceeded");
    expect(await usersNamed(acct, `eve@${domain}`)).toHaveLength(0);
  });

  it("blocks password login under sso_required, but an administrator keeps the break-glass", async () => {
    const acct = await enterprise();
    const domain = `e2e-${label()}.example`;
    const password = "a member's passphrase long enough";
    for (const [email, groupIds] of [
      [`fay@${domain}`, [acct.members]],
      [`boss@${domain}`, [acct.administrators]],
    ] as const) {
      const res = await acct.call("POST", "/v1/users", {
        email,
        first_name: "Pat",
        last_name: "Doe",
        password,
        group_ids: groupIds,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    await connect(acct, domain, { sso_required: true });
    const loginAs = (email: string, pw = password) =>
      api(worker.url, "POST", "/v1/auth/login", { body: { email, password: pw } });

    const member = await loginAs(`fay@${domain}`);
    expect(member.status).toBe(403);
    expect(member.body).toMatchObject({
      code: "sso_required",
      start_url: `${worker.url}/v1/sso/start?email=${encodeURIComponent(`fay@${domain}`)}`,
    });
    const wrong = await loginAs(`boss@${domain}`, "not the administrator's password");
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe("sso_required");
    const breakGlass = await loginAs(`boss@${domain}`);
    expect(breakGlass.status, JSON.stringify(breakGlass.body)).toBe(200);

    // The member gets in through the IdP instead, linked to the existing user.
    const sso = await ssoLogin(`email=fay@${domain}`, {
      sub: `fay-${label()}`,
      email: `fay@${domain}`,
      groups: [],
    });
    expect(sso.status, JSON.stringify(sso.body)).toBe(200);
    expect(sso.body.user.created_via).toBe("manual");
  });

  it("hands the console a one-time code that exactly one of many concurrent exchanges redeems", async () => {
    const acct = await enterprise();
    const domain = `e2e-${label()}.example`;
    await connect(acct, domain);
    const redirectTo = `${CONSOLE}/after-login`;
    const res = await ssoLogin(
      `email=gus@${domain}&redirect_to=${encodeURIComponent(redirectTo)}`,
      { sub: `gus-${label()}`, email: `gus@${domain}`, groups: [] },
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).toBe(redirectTo);
    expect([...location.searchParams.keys()]).toEqual(["code"]);
    const code = location.searchParams.get("code")!;

    const exchanges = await Promise.all(
      Array.from({ length: 10 }, () =>
        api(worker.url, "POST", "/v1/auth/exchange", { body: { code } }),
      ),
    );
    const statuses = exchanges.map((e) => e.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(9);
    const won = exchanges.find((e) => e.status === 200)!;
    expect(won.body.user.email).toBe(`gus@${domain}`);
    const me = await api(worker.url, "GET", "/v1/me", { token: won.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.last_login_method).toBe("sso");

    // A start whose redirect_to is elsewhere is refused before anything happens.
    const evil = await fetch(
      `${worker.url}/v1/sso/start?email=gus@${domain}&redirect_to=${encodeURIComponent("https://evil.example/")}`,
      { redirect: "manual" },
    );
    expect(evil.status).toBe(400);
  });
});

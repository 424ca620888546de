import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import { call, count, createAccount, expectProblem, freshIp, rows } from "../helpers";

afterEach(() => {
  clock.offsetMs = 0;
});

async function setup() {
  const acct = await createAccount();
  const org = (
    await call("POST", "/v1/device-organizations", {
      token: acct.token,
      body: { name: "Lobby screens" },
    })
  ).body.id as string;
  return { acct, org };
}

describe("device pairing", () => {
  it("a device shows a code, an admin claims it once, and it counts as a paired device", async () => {
    const { acct, org } = await setup();
    const code = await call("POST", "/v1/device-pairings/code");
    expect(code.status).toBe(201);
    expect(code.body.pairing_code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(code.body.device_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await env.DB.prepare("SELECT secret_hash FROM device_pairings WHERE code = ?")
      .bind(code.body.pairing_code.replace("-", ""))
      .first<{ secret_hash: string }>();
    expect(stored?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored?.secret_hash).not.toBe(code.body.device_secret);

    // Typed loosely, as a person would: lower case, no hyphen.
    const typed = code.body.pairing_code.replace("-", "").toLowerCase();
    const claimed = await call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: typed, name: "Lobby 1", device_organization_id: org },
    });
    expect(claimed.status).toBe(201);
    expect(claimed.body).toMatchObject({
      name: "Lobby 1",
      device_organization_id: org,
      created_via: "paired",
      status: "active",
    });
    const pairing = await env.DB.prepare(
      "SELECT account_id, device_id FROM device_pairings WHERE code = ?",
    )
      .bind(typed.toUpperCase())
      .first();
    expect(pairing).toEqual({ account_id: acct.accountId, device_id: claimed.body.id });
    const event = await env.DB.prepare(
      "SELECT metadata FROM activity_events WHERE type = 'device.added' AND subject_id = ?",
    )
      .bind(claimed.body.id)
      .first<{ metadata: string }>();
    expect(JSON.parse(event!.metadata)).toMatchObject({ created_via: "paired" });

    const again = await call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: typed, name: "Lobby 2", device_organization_id: org },
    });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("pairing_code_invalid");
    const devices = await env.DB.prepare("SELECT count(*) AS n FROM devices WHERE account_id = ?")
      .bind(acct.accountId)
      .first<{ n: number }>();
    expect(devices?.n).toBe(1);
  });

  it("refuses unknown and expired codes, and codes claimed by another account", async () => {
    const { acct, org } = await setup();
    const other = await setup();
    const unknown = await call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: "ZZZZ-ZZZZ", name: "x", device_organization_id: org },
    });
    expect(unknown.body.code).toBe("pairing_code_invalid");

    const code = (await call("POST", "/v1/device-pairings/code")).body.pairing_code as string;
    clock.offsetMs = 11 * 60 * 1000;
    const expired = await call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: code, name: "late", device_organization_id: org },
    });
    expect(expired.status).toBe(404);
    expect(expired.body.code).toBe("pairing_code_invalid");
    clock.offsetMs = 0;

    const shared = (await call("POST", "/v1/device-pairings/code")).body.pairing_code as string;
    expect(
      (
        await call("POST", "/v1/device-pairings", {
          token: other.acct.token,
          body: { pairing_code: shared, name: "theirs", device_organization_id: other.org },
        })
      ).status,
    ).toBe(201);
    const stolen = await call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: shared, name: "mine", device_organization_id: org },
    });
    expect(stolen.body.code).toBe("pairing_code_invalid");
  });

  it("holds the device limit when claiming", async () => {
    const { acct, org } = await setup();
    expect(
      (
        await call("PATCH", `/v1/platform/accounts/${acct.accountId}`, {
          token: "test-platform-token",
          body: { device_limit: 1 },
        })
      ).status,
    ).toBe(200);
    const first = (await call("POST", "/v1/device-pairings/code")).body.pairing_code;
    const second = (await call("POST", "/v1/device-pairings/code")).body.pairing_code;
    expect(
      (
        await call("POST", "/v1/device-pairings", {
          token: acct.token,
          body: { pairing_code: first, name: "one", device_organization_id: org },
        })
      ).status,
    ).toBe(201);
    const over = await call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: second, name: "two", device_organization_id: org },
    });
    expect(over.status).toBe(409);
    expect(over.body.code).toBe("capacity_exceeded");
    // The refused claim left the code unclaimed: a freed slot lets it pair later.
    const row = await env.DB.prepare("SELECT account_id FROM device_pairings WHERE code = ?")
      .bind(second.replace("-", ""))
      .first<{ account_id: string | null }>();
    expect(row?.account_id).toBeNull();
  });
});

describe("a paired device's own credentials", () => {
  const self = (credentials?: string) =>
    call("GET", "/v1/devices/self", credentials ? { headers: { authorization: credentials } } : {});
  const claim = (acct: { token: string }, code: string, org: string, name = "Screen") =>
    call("POST", "/v1/device-pairings", {
      token: acct.token,
      body: { pairing_code: code, name, device_organization_id: org },
    });

  it("answer the device's record once claimed, 401 for anyone else, 404 once removed", async () => {
    const { acct, org } = await setup();
    const code = await call("POST", "/v1/device-pairings/code");
    expect(code.body.device_id).toMatch(/^dev_[0-9a-z]{26}$/);
    const mine = `Device ${code.body.device_id}.${code.body.device_secret}`;

    expectProblem(await self(mine), 404, "not_found");
    const claimed = await claim(acct, code.body.pairing_code, org, "Lobby");
    expect(claimed.status).toBe(201);
    expect(claimed.body.id).toBe(code.body.device_id);

    const read = await self(mine);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(claimed.body);

    const other = await call("POST", "/v1/device-pairings/code");
    for (const wrong of [
      undefined,
      `Bearer ${code.body.device_secret}`,
      `Device ${code.body.device_id}.${other.body.device_secret}`,
      `Device ${other.body.device_id}.${code.body.device_secret}`,
      `Device ${code.body.device_id}`,
      "Device dev_01h0000000000000000000000.x",
    ]) {
      expectProblem(await self(wrong), 401, "unauthorized");
    }

    expect(
      (await call("DELETE", `/v1/devices/${claimed.body.id}`, { token: acct.token })).status,
    ).toBe(204);
    expectProblem(await self(mine), 404, "not_found");
  });

  it("re-pairing with the current credentials keeps the device and its slot, and rotates the secret", async () => {
    const { acct, org } = await setup();
    const first = await call("POST", "/v1/device-pairings/code");
    const oldCredentials = `Device ${first.body.device_id}.${first.body.device_secret}`;
    expect((await claim(acct, first.body.pairing_code, org, "Lobby")).status).toBe(201);

    const moved = (
      await call("POST", "/v1/device-organizations", { token: acct.token, body: { name: "Hall" } })
    ).body.id as string;
    const again = await call("POST", "/v1/device-pairings/code", {
      headers: { authorization: oldCredentials },
    });
    expect(again.status).toBe(201);
    expect(again.body.device_id).toBe(first.body.device_id);
    expect(again.body.device_secret).not.toBe(first.body.device_secret);

    // Until the new code is claimed, the old secret still works.
    expect((await self(oldCredentials)).status).toBe(200);
    const repaired = await claim(acct, again.body.pairing_code, moved, "Hall 1");
    expect(repaired.status).toBe(201);
    expect(repaired.body).toMatchObject({
      id: first.body.device_id,
      device_organization_id: moved,
    });

    expectProblem(await self(oldCredentials), 401, "unauthorized");
    const fresh = await self(`Device ${again.body.device_id}.${again.body.device_secret}`);
    expect(fresh.body).toMatchObject({ id: first.body.device_id, name: "Hall 1" });
    expect(
      await count("SELECT count(*) AS n FROM devices WHERE account_id = ?", acct.accountId),
    ).toBe(1);
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE type = 'device.paired_again' AND subject_id = ?",
        first.body.device_id,
      ),
    ).toBe(1);
  });

  it("another account cannot claim a device's re-pairing code", async () => {
    const { acct, org } = await setup();
    const stranger = await setup();
    const first = await call("POST", "/v1/device-pairings/code");
    expect((await claim(acct, first.body.pairing_code, org)).status).toBe(201);
    const again = await call("POST", "/v1/device-pairings/code", {
      headers: { authorization: `Device ${first.body.device_id}.${first.body.device_secret}` },
    });
    expectProblem(
      await claim(stranger.acct, again.body.pairing_code, stranger.org),
      404,
      "pairing_code_invalid",
    );
    const [device] = await rows(
      "SELECT account_id, secret_hash FROM devices WHERE id = ?",
      first.body.device_id,
    );
    expect(device!.account_id).toBe(acct.accountId);
  });

  it("asking for a code with bad device credentials is refused, and no code is made", async () => {
    const before = await count("SELECT count(*) AS n FROM device_pairings");
    const res = await call("POST", "/v1/device-pairings/code", {
      headers: { authorization: "Device dev_01h0000000000000000000000.AAAA" },
    });
    expectProblem(res, 401, "unauthorized");
    expect(await count("SELECT count(*) AS n FROM device_pairings")).toBe(before);
  });
});

describe("pairing-code throttling", () => {
  it("gives one address 30 codes an hour, then 429 with Retry-After and no code made", async () => {
    const ip = freshIp();
    const ask = (from = ip) => call("POST", "/v1/device-pairings/code", { ip: from });
    for (let i = 0; i < 30; i++) expect((await ask()).status).toBe(201);
    const before = await count("SELECT count(*) AS n FROM device_pairings");
    const refused = await ask();
    expectProblem(refused, 429, "too_many_attempts");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(await count("SELECT count(*) AS n FROM device_pairings")).toBe(before);
    // Another address is another client; the window ends after an hour.
    expect((await ask(freshIp())).status).toBe(201);
    clock.offsetMs = 60 * 60 * 1000 + 1000;
    expect((await ask()).status).toBe(201);
  });
});

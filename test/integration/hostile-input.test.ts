/**
 * Hostile input, property-based: every JSON route of the served OpenAPI document gets
 * random and malformed bodies and query strings, with real ids of a fresh account and
 * random strings in its path. No answer may be a 5xx and no stored row may change.
 *
 * Every generated body is invalid by construction (an unknown key, a wrong type, broken
 * JSON or a wrong content type), so nothing reaches a password hash or a write.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type CallOptions,
  call,
  count,
  createAccount,
  createGroup,
  createUser,
  PLATFORM_TOKEN,
  rows,
  type TestAccount,
  uniqueEmail,
  until,
} from "../helpers";

interface Operation {
  method: string;
  path: string;
  hasBody: boolean;
  query: string[];
  bodyFields: string[];
}

const RUNS_PER_ROUTE = 10;

const HOSTILE_STRINGS = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  "1; SELECT * FROM sqlite_master",
  "<script>alert(1)</script>",
  "javascript:alert(1)",
  "{{7*7}}",
  "${7*7}",
  "../../etc/passwd",
  "%00",
  "\u0000",
  "\u0000\u0001\u0002\u001f\u007f",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u2066",
  "Ｓｃｒｉｐｔ",
  "🔑".repeat(300),
  "a".repeat(70_000),
  "=cmd|' /C calc'!A0",
  "__proto__",
  "constructor",
  "NaN",
  "-1",
  "1e309",
  "99999999999999999999999",
];

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ maxLength: 50 }),
  fc.string({ unit: "binary", maxLength: 50 }),
  fc.string({ minLength: 1000, maxLength: 5000 }),
);

/** Any JSON value, including nesting, odd numbers and hostile strings. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    hostileString,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(null, true, false, 0, -1, Number.MAX_SAFE_INTEGER, 1e308),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;

function deep(n: number, leaf: string) {
  return `${'{"a":'.repeat(n)}${leaf}${"}".repeat(n)}`;
}

/** A raw body and its content type, invalid for the operation by construction. */
function hostileBody(op: Operation): fc.Arbitrary<{ raw: BodyInit; type?: string }> {
  const json = (raw: string) => ({ raw, type: "application/json" });
  // A key the schema does not know makes any object invalid (every body schema is strict).
  const unknownKey = fc
    .oneof(fc.constantFrom("__proto__", "constructor", "prototype", "is_admin"), fc.string())
    .filter((k) => !op.bodyFields.includes(k));
  const withUnknownKey = fc
    .tuple(
      fc.dictionary(fc.constantFrom(...op.bodyFields, "x"), anyValue, { maxKeys: 4 }),
      unknownKey,
      anyValue,
    )
    .map(([fields, key, value]) => {
      const body = JSON.stringify(fields);
      const extra = `${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}`;
      return json(body === "{}" ? `{${extra}}` : `${body.slice(0, -1)},${extra}}`);
    });
  const protoPollution = fc.constantFrom(
    json('{"__proto__":{"admin":true,"polluted":1}}'),
    json('{"constructor":{"prototype":{"polluted":1}}}'),
    json('{"__proto__":null,"email":"a@example.com"}'),
  );
  const notAnObject = fc
    .oneof(
      hostileString,
      fc.integer(),
      fc.constant(null),
      fc.array(anyValue, { minLength: 1, maxLength: 3 }),
    )
    .map((v) => json(JSON.stringify(v)));
  const wrongTypes = fc
    .tuple(
      fc.constantFrom(...(op.bodyFields.length > 0 ? op.bodyFields : ["x"])),
      fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.integer()), fc.constant({})),
    )
    // The wrong type plus an unknown key, so even a field that takes anything is refused.
    .map(([k, v]) => json(JSON.stringify({ [k]: v, "\u0000": 1 })));
  const broken = fc.oneof(
    fc.constantFrom(
      "",
      " ",
      "{",
      '{"a":',
      "[",
      "nul",
      "{'a':1}",
      '{"a":1}}',
      "\u0000",
      '\ufeff{"\\u0000":1}',
    ),
    fc.string({ maxLength: 30 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    }),
    fc.integer({ min: 200, max: 3000 }).map((n) => deep(n, "1")),
  );
  const truncated = withUnknownKey.map((b) => json(String(b.raw).slice(0, -1)));
  const wrongType = fc
    .tuple(
      fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json-patch+json",
        "",
      ),
      fc.constantFrom('{"a":1}', "a=1&b=2", "--x\r\n\r\n"),
    )
    .map(([type, raw]) => ({ raw, type: type || undefined }));
  return fc.oneof(
    withUnknownKey,
    protoPollution,
    notAnObject,
    ...(op.bodyFields.length ? [wrongTypes] : []),
    broken.map(json),
    truncated,
    wrongType,
  );
}

/** A query string: the operation's own parameters with hostile values, and strangers. */
function hostileQuery(op: Operation): fc.Arbitrary<string> {
  const value = fc.oneof(hostileString, fc.integer().map(String));
  return fc
    .tuple(
      fc.dictionary(fc.constantFrom(...op.query), value, { maxKeys: op.query.length }),
      fc.dictionary(fc.constantFrom("__proto__", "constructor", "x[]", "limit[0]"), value, {
        maxKeys: 2,
      }),
      fc.boolean(),
    )
    .map(([own, strange, repeat]) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries({ ...own, ...strange })) {
        params.append(k, v);
        if (repeat) params.append(k, v);
      }
      return params.toString();
    });
}

const tokenFor = (path: string, t: Fixture) =>
  path.startsWith("/v1/platform") || path.startsWith("/v1/dev")
    ? PLATFORM_TOKEN
    : path.startsWith("/v1/reseller")
      ? t.resellerToken
      : t.acct.token;

interface Fixture {
  acct: TestAccount;
  resellerToken: string;
  ids: string[];
}

/** Every table's full content: any change to any row shows. */
async function snapshot() {
  const tables = await rows<{ name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name",
  );
  const out: Record<string, unknown> = {};
  for (const { name } of tables) {
    out[name] = {
      count: await count(`SELECT count(*) AS n FROM "${name}"`),
      rows: await rows(`SELECT * FROM "${name}" ORDER BY rowid`),
    };
  }
  return out;
}

async function operations(): Promise<Operation[]> {
  const res = await call("GET", "/openapi.json");
  expect(res.status).toBe(200);
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(res.body.paths as Record<string, any>)) {
    for (const [method, op] of Object.entries(methods as Record<string, any>)) {
      const query = (op.parameters ?? [])
        .filter((p: any) => p.in === "query")
        .map((p: any) => p.name as string);
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const resolved = schema?.$ref
        ? res.body.components.schemas[schema.$ref.split("/").pop()]
        : schema;
      if (!op.requestBody && query.length === 0) continue;
      ops.push({
        method: method.toUpperCase(),
        path,
        hasBody: !!op.requestBody,
        query,
        bodyFields: Object.keys(resolved?.properties ?? {}),
      });
    }
  }
  return ops;
}

let fixture: Fixture;
let ops: Operation[];
let before: Record<string, unknown>;

beforeAll(async () => {
  const acct = await createAccount();
  const member = await createUser(acct);
  const group = await createGroup(acct, [{ permission: "users:read" }]);
  const reseller = await call("POST", "/v1/platform/resellers", {
    token: PLATFORM_TOKEN,
    body: { name: "Hostile Resale" },
  });
  const org = await call("POST", "/v1/device-organizations", {
    token: acct.token,
    body: { name: "Lobby" },
  });
  const invitation = await call("POST", "/v1/invitations", {
    token: acct.token,
    body: { email: uniqueEmail("invitee") },
  });
  const apiToken = await call("POST", "/v1/api-tokens", {
    token: acct.token,
    body: { name: "t", permissions: ["users:read"] },
  });
  // Subscribed to an event nothing here causes, so no delivery changes rows meanwhile.
  const webhook = await call("POST", "/v1/webhooks", {
    token: acct.token,
    body: { url: "http://127.0.0.1:9/hook", events: ["device.removed"] },
  });
  for (const r of [reseller, org, invitation, apiToken, webhook])
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  fixture = {
    acct,
    resellerToken: reseller.body.token,
    ids: [
      acct.accountId,
      acct.adminId,
      member.id,
      group,
      acct.administratorsId,
      reseller.body.id,
      org.body.id,
      invitation.body.id,
      apiToken.body.id,
      webhook.body.id,
    ],
  };
  ops = await operations();
  // The stream marks events as sent in the background; wait until it is done.
  await until(
    () => count("SELECT count(*) AS n FROM activity_events WHERE streamed_at IS NULL"),
    (n) => n === 0,
    "events streamed",
  );
  before = await snapshot();
}, 60_000);

describe("hostile input on every JSON route", () => {
  it("the document lists the routes under test", () => {
    expect(ops.length).toBeGreaterThan(30);
    expect(ops.filter((o) => o.hasBody).length).toBeGreaterThan(20);
  });

  it("never answers 5xx, whatever the body, query or path id", async () => {
    const failures: string[] = [];
    for (const op of ops) {
      const pathId = fc.oneof(
        fc.constantFrom(...fixture.ids).map(encodeURIComponent),
        hostileString.map((v) => encodeURIComponent(v.replace(/\p{Cs}/gu, "\ufffd"))),
        // Sent as they are: broken escapes, invalid UTF-8, dot segments.
        fc.constantFrom("%", "%zz", "%ED%A0%80", "%00", "..", ".", "%2F", "a%2Fb"),
      );
      const body = op.hasBody ? hostileBody(op) : fc.constant(undefined);
      const query = op.query.length ? hostileQuery(op) : fc.constant("");
      await fc.assert(
        fc.asyncProperty(pathId, body, query, async (id, b, q) => {
          const path = op.path.replace(/\{[^}]+\}/g, id);
          const opts: CallOptions = { token: tokenFor(op.path, fixture) };
          if (b) {
            opts.raw = b.raw;
            if (b.type) opts.headers = { "content-type": b.type };
          }
          const res = await call(op.method, q ? `${path}?${q}` : path, opts);
          if (res.status >= 500) {
            failures.push(
              `${op.method} ${path}?${q} ${String(b?.raw).slice(0, 200)} → ${res.status}`,
            );
          }
          expect(res.status, `${op.method} ${op.path}`).toBeLessThan(500);
          expect(res.status, `${op.method} ${op.path}`).toBeGreaterThanOrEqual(
            op.hasBody ? 400 : 200,
          );
        }),
        { numRuns: RUNS_PER_ROUTE, seed: Number(process.env.HOSTILE_SEED ?? Date.now() % 2 ** 31) },
      );
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it("changed no row, and polluted no prototype", async () => {
    expect(await snapshot()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

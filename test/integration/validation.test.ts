import { describe, expect, it } from "vitest";
import {
  call,
  createAccount,
  createUser,
  expectProblem,
  PASSWORD,
  PLATFORM_TOKEN,
  type Reply,
  rows,
  uniqueEmail,
} from "../helpers";

const TABLES = [
  "accounts",
  "users",
  "groups",
  "grants",
  "group_memberships",
  "sessions",
  "refresh_tokens",
  "activity_events",
  "login_throttle",
];
/** Row counts, plus the sums of update times, so an UPDATE shows as well as an INSERT. */
async function snapshot() {
  const counts = TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(", ");
  const touched = ["accounts", "users", "groups"]
    .map((t) => `(SELECT total(updated_at) FROM ${t}) AS ${t}_updated`)
    .join(", ");
  return (await rows(`SELECT ${counts}, ${touched}`))[0];
}

/** Runs `send` and checks that the database is exactly as before. */
async function refusedWithoutWrites(send: () => Promise<Reply>): Promise<Reply> {
  const before = await snapshot();
  const res = await send();
  expect(await snapshot()).toEqual(before);
  return res;
}

const paths = (res: Reply) => (res.body.errors as { path: string }[]).map((e) => e.path);

interface Route {
  method: string;
  path: string;
  token?: string;
  /** A body the route accepts. */
  valid: Record<string, unknown>;
  /** One field at a time made the wrong type, and the path the answer must name. */
  wrong: [Record<string, unknown>, string][];
  required: string[];
}

/** The routes under test, for a fresh account with one member (`target`). */
async function setup() {
  const acct = await createAccount();
  const target = await createUser(acct);
  const routes: Route[] = [
    {
      method: "POST",
      path: "/v1/users",
      token: acct.token,
      valid: { email: uniqueEmail(), first_name: "Ada", last_name: "Lovelace", password: PASSWORD },
      wrong: [
        [{ first_name: 42 }, "first_name"],
        [{ group_ids: "grp_x" }, "group_ids"],
        [{ group_ids: [7] }, "group_ids.0"],
        [{ must_change_password: "yes" }, "must_change_password"],
        [{ email: "not-an-email" }, "email"],
        [{ last_name: "" }, "last_name"],
      ],
      required: ["email", "first_name", "last_name", "password"],
    },
    {
      method: "PATCH",
      path: `/v1/users/${target.id}`,
      token: acct.token,
      valid: { first_name: "Grace" },
      wrong: [
        [{ status: "gone" }, "status"],
        [{ first_name: ["x"] }, "first_name"],
        [{ last_name: "   " }, "last_name"],
      ],
      required: [],
    },
    {
      method: "POST",
      path: "/v1/groups",
      token: acct.token,
      valid: { name: "Ops", grants: [] },
      wrong: [
        [{ grants: {} }, "grants"],
        [{ grants: [{ permission: 5 }] }, "grants.0.permission"],
        [{ name: null }, "name"],
        [{ description: 5 }, "description"],
      ],
      required: ["name", "grants"],
    },
    {
      method: "POST",
      path: "/v1/auth/login",
      valid: { email: target.email, password: PASSWORD },
      wrong: [
        [{ email: 5 }, "email"],
        [{ password: true }, "password"],
      ],
      required: ["email", "password"],
    },
    {
      method: "POST",
      path: "/v1/platform/accounts",
      token: PLATFORM_TOKEN,
      valid: {
        name: "Initech",
        plan: "team",
        admin_email: uniqueEmail("boss"),
        admin_password: PASSWORD,
      },
      wrong: [
        [{ plan: 1 }, "plan"],
        [{ admin_email: "x" }, "admin_email"],
        [{ name: {} }, "name"],
      ],
      required: ["name", "plan", "admin_email"],
    },
    {
      method: "PATCH",
      path: "/v1/me",
      token: target.token,
      valid: { first_name: "Me" },
      wrong: [
        [{ last_name: 7 }, "last_name"],
        [{ first_name: "" }, "first_name"],
      ],
      required: [],
    },
  ];
  return { acct, target, routes };
}

const send = (
  route: Route,
  opts: { body?: unknown; raw?: BodyInit; headers?: Record<string, string> },
) => call(route.method, route.path, { token: route.token, ...opts });

describe("malformed and mistyped bodies", () => {
  it("malformed JSON is 400 invalid_json", async () => {
    const { routes } = await setup();
    for (const route of routes) {
      for (const raw of ['{"email": ', "{'email': 'a'}", '{"a":1} trailing', "", "nul"]) {
        const res = await refusedWithoutWrites(() =>
          send(route, { raw, headers: { "content-type": "application/json" } }),
        );
        expectProblem(res, 400, "invalid_json");
      }
    }
  });

  it("unknown fields are 422 validation_failed naming each field", async () => {
    const { acct, routes } = await setup();
    for (const route of routes) {
      const res = await refusedWithoutWrites(() =>
        send(route, { body: { ...route.valid, is_admin: true, role: "owner" } }),
      );
      expectProblem(res, 422, "validation_failed");
      expect(res.body.errors).toEqual([
        { path: "is_admin", code: "unknown_field", message: expect.any(String) },
        { path: "role", code: "unknown_field", message: expect.any(String) },
      ]);
    }
    const nested: [string, string, unknown, string][] = [
      [
        "POST",
        "/v1/groups",
        { name: "N", grants: [{ permission: "users:read", extra: 1 }] },
        "grants.0.extra",
      ],
      [
        "POST",
        "/v1/groups",
        {
          name: "N",
          grants: [
            { permission: "devices:read", scope: { device_organization_ids: ["d"], sites: [] } },
          ],
        },
        "grants.0.scope.sites",
      ],
      [
        "PATCH",
        "/v1/account",
        { settings: { invitation_ttl_hours: 24, colour: "red" } },
        "settings.colour",
      ],
    ];
    for (const [method, path, body, field] of nested) {
      const res = await refusedWithoutWrites(() => call(method, path, { token: acct.token, body }));
      expectProblem(res, 422, "validation_failed");
      expect(res.body.errors).toContainEqual(
        expect.objectContaining({ path: field, code: "unknown_field" }),
      );
    }
  });

  it("wrong types are 422 with the field's path", async () => {
    const { routes } = await setup();
    for (const route of routes) {
      for (const [wrong, path] of route.wrong) {
        const res = await refusedWithoutWrites(() =>
          send(route, { body: { ...route.valid, ...wrong } }),
        );
        expectProblem(res, 422, "validation_failed");
        expect(paths(res), `${route.method} ${route.path} ${JSON.stringify(wrong)}`).toEqual([
          path,
        ]);
        expect(res.body.detail).toContain(path);
      }
      for (const body of [[], "text", null, 42, [route.valid]]) {
        expectProblem(
          await refusedWithoutWrites(() => send(route, { body })),
          422,
          "validation_failed",
        );
      }
    }
  });

  it("missing required fields are 422 naming each one", async () => {
    const { routes } = await setup();
    for (const route of routes.filter((r) => r.required.length > 0)) {
      for (const field of route.required) {
        const { [field]: _omitted, ...body } = route.valid;
        const res = await refusedWithoutWrites(() => send(route, { body }));
        expectProblem(res, 422, "validation_failed");
        expect(paths(res)).toEqual([field]);
      }
      const empty = await refusedWithoutWrites(() => send(route, { body: {} }));
      expectProblem(empty, 422, "validation_failed");
      expect(paths(empty).sort()).toEqual([...route.required].sort());
      // No body at all is the same as an empty one.
      expectProblem(await refusedWithoutWrites(() => send(route, {})), 422, "validation_failed");
    }
  });

  it("an empty PATCH is accepted and changes nothing", async () => {
    const { routes } = await setup();
    for (const route of routes.filter((r) => r.method === "PATCH")) {
      const res = await refusedWithoutWrites(() => send(route, { body: {} }));
      expect(res.status).toBe(200);
    }
  });
});

describe("content type and size", () => {
  it("a body that is not JSON is 415 unsupported_media_type", async () => {
    const { routes } = await setup();
    for (const route of routes) {
      const json = JSON.stringify(route.valid);
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
        expectProblem(
          await refusedWithoutWrites(() =>
            send(route, { raw: json, headers: { "content-type": type } }),
          ),
          415,
          "unsupported_media_type",
        );
      }
      // Bytes without any content type are not taken for JSON either.
      expectProblem(
        await refusedWithoutWrites(() => send(route, { raw: new TextEncoder().encode(json) })),
        415,
        "unsupported_media_type",
      );
      // A charset parameter is fine: the body is read (and refused here only for its unknown field).
      const withCharset = await refusedWithoutWrites(() =>
        send(route, {
          raw: JSON.stringify({ ...route.valid, bogus: 1 }),
          headers: { "content-type": "application/json; charset=utf-8" },
        }),
      );
      expectProblem(withCharset, 422, "validation_failed");
    }
  });

  it("a body over 64 KiB is 413 payload_too_large", async () => {
    const { routes } = await setup();
    for (const route of routes) {
      const field = Object.keys(route.valid).find(
        (k) => k !== "email" && typeof route.valid[k] === "string",
      )!;
      const sized = (bytes: number) => {
        const base = JSON.stringify({ ...route.valid, [field]: "" });
        return JSON.stringify({ ...route.valid, [field]: "x".repeat(bytes - base.length) });
      };
      const over = sized(64 * 1024 + 1);
      expect(over.length).toBe(64 * 1024 + 1);
      expectProblem(
        await refusedWithoutWrites(() =>
          send(route, { raw: over, headers: { "content-type": "application/json" } }),
        ),
        413,
        "payload_too_large",
      );
      // Streamed, without a Content-Length to go by.
      const stream = new Blob([over]).stream();
      expectProblem(
        await refusedWithoutWrites(() =>
          send(route, { raw: stream, headers: { "content-type": "application/json" } }),
        ),
        413,
        "payload_too_large",
      );
      // Exactly the limit gets past the size check and is judged on its content.
      const atLimit = await refusedWithoutWrites(() =>
        send(route, { raw: sized(64 * 1024), headers: { "content-type": "application/json" } }),
      );
      expect(atLimit.status).not.toBe(413);
      expect(atLimit.status).toBeGreaterThanOrEqual(400);
    }
  });
});

describe("routes, ids and queries", () => {
  it("unknown routes are 404 not_found problems", async () => {
    const { acct } = await setup();
    for (const [method, path] of [
      ["GET", "/v1/nope"],
      ["POST", "/v1/users/x/y"],
      ["GET", "/nope"],
      ["GET", "/v1"],
      ["PUT", "/v1/groups/x/members"],
    ]) {
      for (const token of [undefined, acct.token]) {
        expectProblem(
          await refusedWithoutWrites(() =>
            call(method!, path!, { token, body: method === "GET" ? undefined : {} }),
          ),
          404,
          "not_found",
        );
      }
    }
    const wrongMethod = await refusedWithoutWrites(() =>
      call("DELETE", "/v1/account", { token: acct.token }),
    );
    expect([404, 405]).toContain(wrongMethod.status);
    expectProblem(
      wrongMethod,
      wrongMethod.status,
      wrongMethod.status === 404 ? "not_found" : "method_not_allowed",
    );
  });

  it("ids of any shape that name nothing answer 404; query parameters are validated before they reach SQL", async () => {
    const { acct } = await setup();
    const longId = `usr_${"x".repeat(300)}`;
    for (const [method, path, body] of [
      ["GET", `/v1/users/${longId}`, undefined],
      ["PATCH", `/v1/users/${longId}`, { first_name: "X" }],
      ["DELETE", `/v1/groups/${longId}`, undefined],
    ] as const) {
      const res = await refusedWithoutWrites(() => call(method, path, { token: acct.token, body }));
      expectProblem(res, 404, "not_found");
    }
    const injection = await refusedWithoutWrites(() =>
      call("GET", `/v1/users/${encodeURIComponent("x' OR '1'='1")}`, { token: acct.token }),
    );
    expectProblem(injection, 404, "not_found");
    const search = await refusedWithoutWrites(() =>
      call("GET", `/v1/users?q=${encodeURIComponent("' OR 1=1 --")}`, { token: acct.token }),
    );
    expect(search.status).toBe(200);
    expect(search.body.data).toEqual([]);
    for (const query of [
      "status=deleted",
      "limit=many",
      `q=${"q".repeat(201)}`,
      `cursor=${"c".repeat(201)}`,
    ]) {
      const res = await refusedWithoutWrites(() =>
        call("GET", `/v1/users?${query}`, { token: acct.token }),
      );
      expectProblem(res, 422, "validation_failed");
      expect(paths(res)).toEqual([query.split("=")[0]]);
    }
  });
});

import { validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import committed from "../../docs/openapi.json";
import { buildApp } from "../../src/app";
import { ERRORS } from "../../src/lib/errors";
import { call } from "../helpers";

/** Routes served outside the JSON contract: the document, its page, health checks and HTML pages. */
const UNDOCUMENTED = new Set([
  "GET /openapi.json",
  "GET /docs",
  "GET /docs/errors",
  "GET /health",
  "GET /health/live",
  "GET /activate",
  "POST /activate",
  "GET /verify-email",
  "POST /verify-email",
  "GET /cancel-email-change",
  "POST /cancel-email-change",
  "GET /reset-password",
  "POST /reset-password",
]);

describe("OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(res.body));
    expect("errors" in result ? result.errors : []).toEqual([]);
    expect(result.valid).toBe(true);
    // The validator does reject a broken document, so the check above means something.
    const broken = structuredClone(res.body);
    broken.paths["/v1/users"].get.responses = "nope";
    expect((await validate(broken)).valid).toBe(false);
  });

  it("lists every route the app serves", async () => {
    const doc = (await call("GET", "/openapi.json")).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    const served = buildApp()
      .routes.filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`)
      .filter((r) => !UNDOCUMENTED.has(r));
    expect(served.length).toBeGreaterThan(20);
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.includes(r))).toEqual([]);
  });

  it("serves a readable docs page naming the routes", async () => {
    const res = await call("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.body).toContain("POST /v1/auth/login");
    expect(res.body).toContain("GET /v1/users/{id}");
  });
});

describe("the committed document", () => {
  it("is what the worker serves (run npm run openapi after changing the API)", async () => {
    const served = (await call("GET", "/openapi.json")).body;
    expect(served).toEqual(committed);
  });
});

describe("error codes", () => {
  it("problem types link to the served list of every code", async () => {
    const res = await call("GET", "/v1/nowhere");
    expect(res.status).toBe(404);
    expect(res.body.type).toBe("http://127.0.0.1:8787/docs/errors#not_found");
    const page = await call("GET", "/docs/errors");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    for (const [code, [status]] of Object.entries(ERRORS)) {
      expect(page.body).toContain(
        `<tr id="${code}"><td><code>${code}</code></td><td>${status}</td>`,
      );
    }
  });
});

import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";

it("health", async () => {
  const res = await exports.default.fetch("http://api.test/health");
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: "ok" });
});

it("login unknown", async () => {
  const res = await exports.default.fetch("http://api.test/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "a@b.c", password: "x".repeat(20) }),
  });
  expect(res.status).toBe(401);
  expect(await res.json()).toMatchObject({ code: "invalid_credentials" });
});

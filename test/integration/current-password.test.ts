/** Guessing the current password from a session is limited like logins, and counted before hashing. */
import { describe, expect, it } from "vitest";
import { call, count, createAccount, createUser, expectProblem, uniqueEmail } from "../helpers";

const WRONG = "not the current password at all";

describe("the current password, from a session", () => {
  it("allows 10 wrong guesses in a window, then 429 with Retry-After, and nothing changes", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    for (let i = 0; i < 10; i++) {
      const res = await call("POST", "/v1/me/password", {
        token: user.token,
        body: { current_password: WRONG, new_password: "a brand new passphrase for this test" },
      });
      expectProblem(res, 422, "invalid_current_password");
    }
    const email = uniqueEmail("moved");
    const blocked = await call("PATCH", "/v1/me", {
      token: user.token,
      body: { email, current_password: WRONG },
    });
    expectProblem(blocked, 429, "too_many_attempts");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM users WHERE pending_email = ?", email)).toBe(0);
  });

  it("lets at most 10 of 25 concurrent guesses be checked", async () => {
    const acct = await createAccount();
    const user = await createUser(acct);
    const answers = await Promise.all(
      Array.from({ length: 25 }, () =>
        call("POST", "/v1/me/password", {
          token: user.token,
          body: { current_password: WRONG, new_password: "a brand new passphrase for this test" },
        }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 422).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
    expect(statuses.every((s) => s === 422 || s === 429)).toBe(true);
  });
});

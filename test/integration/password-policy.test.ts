/**
 * The password policy over HTTP: the common-password list, and NFKC normalization before
 * checking, hashing and verifying.
 */
import { describe, expect, it } from "vitest";
import COMMON from "../../src/lib/common-passwords.json";
import { call, count, createAccount, expectProblem, freshIp, uniqueEmail } from "../helpers";

const createWith = (token: string, email: string, password: string) =>
  call("POST", "/v1/users", {
    token,
    body: { email, first_name: "Pat", last_name: "Doe", password },
  });

describe("common passwords", () => {
  it("the list is the long entries of the top million, normalized and lower-cased", () => {
    expect(COMMON.length).toBeGreaterThan(5000);
    for (const p of ["123456789987654321", "1qaz2wsx3edc4rfv", "passwordpassword"])
      expect(COMMON).toContain(p);
    for (const p of COMMON) {
      expect([...p].length).toBeGreaterThanOrEqual(15);
      expect(p).toBe(p.normalize("NFKC").toLowerCase());
    }
  });

  it("refuses a long common password, and its full-width form, with 422 weak_password", async () => {
    const acct = await createAccount();
    const email = uniqueEmail("common");
    for (const password of [
      "123456789987654321",
      "1qaz2wsx3edc4rfv",
      "1QAZ2WSX3EDC4RFV",
      "１２３４５６７８９９８７６５４３２１",
    ]) {
      const res = await createWith(acct.token, email, password);
      expectProblem(res, 422, "weak_password");
      expect(res.body.errors).toEqual([
        expect.objectContaining({ path: "password", code: "weak_password" }),
      ]);
    }
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", email)).toBe(0);
  });

  it("a password set with compatibility characters signs in with its NFKC form, and as typed", async () => {
    const acct = await createAccount();
    const email = uniqueEmail("nfkc");
    // Full-width letters and a ligature: NFC leaves them alone, NFKC folds them.
    const typed = "Ｓｔａｒｌｉｇｈｔ ﬁreﬂies 42";
    expect(typed.normalize("NFC")).toBe(typed);
    const folded = typed.normalize("NFKC");
    expect(folded).toBe("Starlight fireflies 42");
    expect((await createWith(acct.token, email, typed)).status).toBe(201);
    for (const password of [folded, typed]) {
      const res = await call("POST", "/v1/auth/login", {
        body: { email, password },
        ip: freshIp(),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.access_token).toEqual(expect.any(String));
    }
    const wrong = await call("POST", "/v1/auth/login", {
      body: { email, password: "Starlight fireflies 43" },
      ip: freshIp(),
    });
    expectProblem(wrong, 401, "invalid_credentials");
  });
});

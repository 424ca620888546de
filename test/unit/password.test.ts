import { describe, expect, it } from "vitest";
import { AppError } from "../../src/lib/errors";
import {
  checkPasswordPolicy,
  hashPassword,
  needsRehash,
  STANDARD_COST,
  verifyPassword,
} from "../../src/lib/password";

const rejects = (password: string, context = {}) => {
  try {
    checkPasswordPolicy(password, context);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
};

describe("password policy (NIST SP 800-63B rev. 4)", () => {
  it("needs 15 to 256 characters, counted as code points, and no composition rules", () => {
    expect(rejects("abcdefghijk123")).toBe("weak_password"); // 14
    expect(rejects("abcdefghijk1234")).toBeNull(); // 15
    expect(rejects("plain lowercase words")).toBeNull();
    expect(rejects("🔑🚪 open sesame!")).toBeNull(); // 16 code points, 17 UTF-16 units
    expect(rejects("🔑🚪 open sesam")).toBe("weak_password"); // 14 code points, 16 UTF-16 units
    expect(rejects("ab".repeat(129))).toBe("weak_password");
  });

  it("rejects common and context-specific passwords", () => {
    expect(rejects("passwordpassword")).toBe("weak_password");
    expect(rejects("aaaaaaaaaaaaaaaaaaaa")).toBe("weak_password");
    expect(rejects("jane.doe@example.com!", { email: "jane.doe@example.com" })).toBe(
      "weak_password",
    );
    expect(rejects("Acme Signage Ltd 1", { accountName: "Acme Signage Ltd" })).toBe(
      "weak_password",
    );
  });
});

describe("scrypt hashes", () => {
  const standard = { pepper: null, cost: STANDARD_COST };

  it("verify the right password only, in the self-describing format", async () => {
    const hash = await hashPassword("correct horse battery staple", standard);
    expect(hash).toMatch(/^scrypt\$16384\$8\$5\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword("correct horse battery staple", hash, standard)).toBe(true);
    expect(await verifyPassword("correct horse battery stapler", hash, standard)).toBe(false);
    expect(needsRehash(hash, standard)).toBe(false);
    expect(needsRehash("scrypt$1024$8$1$c2FsdA==$aGFzaA==", standard)).toBe(true);
  });

  it("bind the hash to the pepper when one is configured", async () => {
    const peppered = { pepper: "pepper-1", cost: STANDARD_COST };
    const hash = await hashPassword("correct horse battery staple", peppered);
    expect(await verifyPassword("correct horse battery staple", hash, peppered)).toBe(true);
    const other = { ...peppered, pepper: "pepper-2" };
    expect(await verifyPassword("correct horse battery staple", hash, other)).toBe(false);
    expect(await verifyPassword("correct horse battery staple", hash, standard)).toBe(false);
  });

  it("verify a hash made at another cost, and ask for a rehash only when it is below today's", async () => {
    const cheap = { pepper: null, cost: 1024 };
    const hash = await hashPassword("correct horse battery staple", cheap);
    expect(hash.startsWith("scrypt$1024$8$5$")).toBe(true);
    expect(await verifyPassword("correct horse battery staple", hash, standard)).toBe(true);
    expect(needsRehash(hash, cheap)).toBe(false);
    expect(needsRehash(hash, standard)).toBe(true);
  });
});

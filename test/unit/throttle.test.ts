import { describe, expect, it } from "vitest";
import { retryAfterSeconds, THROTTLE_WINDOW_MS, throttleKeys } from "../../src/auth/throttle";

describe("login throttle windows", () => {
  const keys = throttleKeys("a@example.com", "203.0.113.9");
  const now = 1_000_000_000;

  it("lets attempts through below every limit", () => {
    expect(
      retryAfterSeconds(
        keys,
        [{ key: keys[0]!.key, failures: 9, windowStartedAt: now - 1000 }],
        now,
      ),
    ).toBe(0);
  });

  it("holds the pair at 10 failures until its window ends", () => {
    const rows = [{ key: keys[0]!.key, failures: 10, windowStartedAt: now - 60_000 }];
    expect(retryAfterSeconds(keys, rows, now)).toBe((THROTTLE_WINDOW_MS - 60_000) / 1000);
    expect(retryAfterSeconds(keys, rows, now - 60_000 + THROTTLE_WINDOW_MS)).toBe(0);
  });

  it("holds an email or an address at 100 failures from anywhere", () => {
    expect(
      retryAfterSeconds(keys, [{ key: keys[1]!.key, failures: 100, windowStartedAt: now }], now),
    ).toBe(900);
    expect(
      retryAfterSeconds(keys, [{ key: keys[2]!.key, failures: 99, windowStartedAt: now }], now),
    ).toBe(0);
  });
});

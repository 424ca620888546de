import { describe, expect, it } from "vitest";
import {
  clientKey,
  retryAfterSeconds,
  THROTTLE_WINDOW_MS,
  throttleKeys,
} from "../../src/auth/throttle";

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

describe("client keys", () => {
  it("keys IPv4 clients by their address", () => {
    expect(clientKey("203.0.113.9")).toBe("203.0.113.9");
    expect(clientKey(null)).toBe("unknown");
  });

  it("keys IPv6 clients by their /64, however the address is written", () => {
    const key = "2001:db8:a:b::/64";
    for (const ip of [
      "2001:db8:a:b::1",
      "2001:DB8:A:B:ffff:ffff:ffff:ffff",
      "2001:0db8:000a:000b:0:0:0:1",
      "2001:db8:a:b:1::",
      "2001:db8:a:b:1:2:3:4%eth0",
    ]) {
      expect(clientKey(ip), ip).toBe(key);
    }
    expect(clientKey("2001:db8:a:c::1")).not.toBe(key);
    expect(clientKey("::1")).toBe("0:0:0:0::/64");
    expect(clientKey("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(clientKey("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(clientKey("64:ff9b::192.0.2.33")).toBe("64:ff9b:0:0::/64");
  });

  it("throttle keys use the client key", () => {
    const [pair, email, ip] = throttleKeys("a@example.com", "2001:db8:a:b::1");
    expect(pair!.key).toBe("pair:a@example.com|2001:db8:a:b::/64");
    expect(email!.key).toBe("email:a@example.com");
    expect(ip!.key).toBe("ip:2001:db8:a:b::/64");
  });
});

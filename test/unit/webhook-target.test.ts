/**
 * Where webhooks may go (src/webhooks/target-policy.ts): outside development only https to
 * a public host; in development a local http receiver is fine. And the retry schedule
 * (src/webhooks/delivery.ts): growing delays, at least 6 retries over at least 24 hours,
 * whatever the jitter draws.
 */
import { describe, expect, it } from "vitest";
import { AppError } from "../../src/lib/errors";
import { MAX_ATTEMPTS, retryDelaySeconds } from "../../src/webhooks/delivery";
import { checkWebhookTarget } from "../../src/webhooks/target-policy";

function refusal(url: string, environment: string): AppError | null {
  try {
    checkWebhookTarget(url, environment === "development");
    return null;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

describe("checkWebhookTarget in production", () => {
  it.each([
    "https://hooks.example.com/receive",
    "https://hooks.example.com:8443/receive?x=1",
    "https://93.184.216.34/hook",
    "https://hooks.example.org./v1",
    "https://172.32.0.1/hook",
    "https://11.0.0.1/hook",
  ])("accepts %s", (url) => {
    expect(refusal(url, "production")).toBeNull();
    expect(checkWebhookTarget(url, false).toString()).toBe(new URL(url).toString());
  });

  it.each([
    ["plain http", "http://hooks.example.com/receive"],
    ["another scheme", "ftp://hooks.example.com/receive"],
    ["loopback", "https://127.0.0.1/hook"],
    ["loopback, elsewhere in 127/8", "https://127.10.0.3:8443/hook"],
    ["loopback written as a number", "https://2130706433/hook"],
    ["loopback written in hex", "https://0x7f.0.0.1/hook"],
    ["the unspecified address", "https://0.0.0.0/hook"],
    ["10/8", "https://10.1.2.3/hook"],
    ["172.16/12", "https://172.16.0.1/hook"],
    ["172.16/12, top end", "https://172.31.255.254/hook"],
    ["192.168/16", "https://192.168.1.10/hook"],
    ["link-local (cloud metadata)", "https://169.254.169.254/latest/meta-data"],
    ["carrier-grade NAT", "https://100.64.0.1/hook"],
    ["IPv6 loopback", "https://[::1]/hook"],
    ["IPv6 unique local", "https://[fd00::1]/hook"],
    ["IPv6 link-local", "https://[fe80::1]/hook"],
    ["IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/hook"],
    ["localhost", "https://localhost/hook"],
    ["a localhost subdomain", "https://api.localhost/hook"],
    ["localhost with the root dot", "https://localhost./hook"],
    ["*.internal", "https://metadata.google.internal/computeMetadata"],
    ["*.internal with the root dot", "https://metadata.google.internal./computeMetadata"],
    ["*.local", "https://printer.local/hook"],
    ["a single-label name", "https://intranet-server/hook"],
    ["credentials in the URL", "https://user:pass@hooks.example.com/hook"],
    ["not a URL", "hooks.example.com/hook"],
  ])("refuses %s (%s) with 422 validation_failed on url", (_label, url) => {
    const err = refusal(url, "production");
    expect(err, url).not.toBeNull();
    expect(err!.status).toBe(422);
    expect(err!.code).toBe("validation_failed");
    expect(err!.extra.errors).toEqual([
      expect.objectContaining({ path: "url", code: "invalid_target" }),
    ]);
  });
});

describe("checkWebhookTarget in development", () => {
  it("allows a local http receiver, and still refuses other schemes and credentials", () => {
    for (const url of [
      "http://127.0.0.1:9/hook",
      "http://localhost:8787/hook",
      "https://hooks.example.com/x",
    ]) {
      expect(refusal(url, "development"), url).toBeNull();
    }
    for (const url of ["ftp://127.0.0.1/hook", "http://user:pw@127.0.0.1:9/hook", "not a url"]) {
      expect(refusal(url, "development")?.code, url).toBe("validation_failed");
    }
  });

  it("treats any other environment name as production", () => {
    expect(refusal("http://127.0.0.1:9/hook", "staging")?.code).toBe("validation_failed");
  });
});

describe("retryDelaySeconds", () => {
  const HOUR = 3600;
  const retries = MAX_ATTEMPTS - 1;

  it.each([0, 0.5, 1, 0.999999])(
    "with random fixed at %s the delays grow and span at least 24 hours over at least 6 retries",
    (r) => {
      const delays = Array.from({ length: retries }, (_, i) => retryDelaySeconds(i + 1, () => r));
      expect(delays.length).toBeGreaterThanOrEqual(6);
      for (let i = 1; i < delays.length; i++)
        expect(delays[i], `retry ${i + 1} after ${delays.join(", ")}`).toBeGreaterThan(
          delays[i - 1]!,
        );
      expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(24 * HOUR);
      // A queue message can be delayed by at most 12 hours.
      for (const d of delays) expect(d).toBeLessThanOrEqual(12 * HOUR);
      expect(delays[0]).toBeGreaterThan(0);
    },
  );

  it("jitters around the middle by at most a fifth", () => {
    for (let n = 1; n <= retries; n++) {
      const low = retryDelaySeconds(n, () => 0);
      const mid = retryDelaySeconds(n, () => 0.5);
      const high = retryDelaySeconds(n, () => 1);
      expect(low).toBeLessThanOrEqual(mid);
      expect(mid).toBeLessThanOrEqual(high);
      expect(low).toBeGreaterThanOrEqual(Math.floor(mid * 0.8));
      expect(high).toBeLessThanOrEqual(Math.ceil(mid * 1.2));
      expect(high).toBeGreaterThan(low);
    }
  });
});

/**
 * Where webhooks may go: https only, and never to loopback, private, link-local or other
 * internal addresses, outside development (where a local receiver on http is fine).
 * Workers cannot resolve DNS before connecting, so names are judged by their text:
 * literal addresses and internal-looking names are refused.
 */
import { AppError } from "../lib/errors";

const INTERNAL_NAMES = /(^|\.)(localhost|local|internal|intranet|lan|home|corp|localdomain)$/i;

function ipv4Blocked(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

function ipv6Blocked(host: string): boolean {
  if (!host.startsWith("[")) return false;
  const h = host.slice(1, -1).toLowerCase();
  if (h === "::" || h === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return ipv4Blocked(mapped[1]!);
  // Unique local (fc00::/7), link-local (fe80::/10), multicast, and any other literal: refuse.
  return true;
}

export function checkWebhookTarget(raw: string, development: boolean): URL {
  const fail = (message: string) => {
    throw new AppError("validation_failed", message, {
      errors: [{ path: "url", code: "invalid_target", message }],
    });
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail("Not a URL.");
  }
  if (url.username || url.password)
    fail("Credentials in the URL are not allowed; use the signing secret.");
  if (development) {
    if (url.protocol !== "https:" && url.protocol !== "http:") fail("Use an http(s) URL.");
    return url;
  }
  if (url.protocol !== "https:") fail("Webhook URLs must use https.");
  // A fully qualified name may end in the root's dot (`localhost.`): judge it without.
  const host = url.hostname.replace(/\.+$/, "");
  if (ipv4Blocked(host) || ipv6Blocked(host) || INTERNAL_NAMES.test(host) || !host.includes(".")) {
    fail(
      "Webhook URLs must point at a public host, not a loopback, private, link-local or internal address.",
    );
  }
  return url;
}

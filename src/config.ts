/**
 * The Worker's configuration, read and checked once per isolate: every other file takes its
 * settings from here, never from `env` directly. Outside development a missing or weak
 * secret makes every request answer 503 `misconfigured` naming the variables, so a
 * forgotten `wrangler secret put` fails loudly instead of running with a known key.
 */
import { z } from "zod";
import type { Bindings } from "./context";
import { type PasswordHashing, STANDARD_COST } from "./lib/password";

/** The values `.dev.vars.example` gives local development; refused anywhere else. */
export const DEVELOPMENT_SECRETS = {
  JWT_SIGNING_KEY: "dev-only-signing-key-change-me-0123456789abcdef",
  PLATFORM_ADMIN_TOKEN: "dev-platform-token",
  ENCRYPTION_KEY: "dev-only-encryption-key-change-me-0123456789abcdef",
} as const;

const MIN_SECRET_BYTES = 32;

export interface Config {
  development: boolean;
  /** Base of every link in mail and pages, without a trailing slash. */
  appUrl: string;
  emailFrom: string;
  postmark: { serverToken: string | null; apiUrl: string };
  /** Access-token keys: the first signs, every one verifies (rotation). */
  jwtKeys: string[];
  platformToken: string;
  /** Key material for secrets kept at rest (an SSO connection's client secret). */
  encryptionKey: string;
  passwords: PasswordHashing;
  activityRetentionDays: number;
  /** Exact origins of dashboards allowed to call /v1 from a browser. */
  corsOrigins: string[];
}

type Loaded = { ok: true; config: Config } | { ok: false; problems: string[] };

const text = z.string().trim();
const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
const bytes = (value: string) => new TextEncoder().encode(value).length;

const Raw = z.object({
  ENVIRONMENT: text.optional(),
  APP_URL: text.optional(),
  EMAIL_FROM: text.optional(),
  POSTMARK_SERVER_TOKEN: text.optional(),
  POSTMARK_API_URL: text.optional(),
  JWT_SIGNING_KEY: text.optional(),
  PLATFORM_ADMIN_TOKEN: text.optional(),
  ENCRYPTION_KEY: text.optional(),
  PASSWORD_PEPPER: text.optional(),
  PASSWORD_HASH_COST: text.optional(),
  ACTIVITY_RETENTION_DAYS: text.optional(),
  CORS_ORIGINS: text.optional(),
});

function parse(env: Bindings): Loaded {
  const raw = Raw.parse(env);
  const development = (raw.ENVIRONMENT || "production") === "development";
  const problems: string[] = [];
  const secret = (name: keyof typeof DEVELOPMENT_SECRETS, value: string | undefined) => {
    const weak = (v: string) => bytes(v) < MIN_SECRET_BYTES || v === DEVELOPMENT_SECRETS[name];
    if (!development && (!value || list(value).some(weak))) problems.push(name);
    return value || DEVELOPMENT_SECRETS[name];
  };
  const jwt = secret("JWT_SIGNING_KEY", raw.JWT_SIGNING_KEY);
  const platformToken = secret("PLATFORM_ADMIN_TOKEN", raw.PLATFORM_ADMIN_TOKEN);
  const encryptionKey = secret("ENCRYPTION_KEY", raw.ENCRYPTION_KEY);
  const appUrl = (raw.APP_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");
  if (!development && !/^https:\/\/[^/]/.test(appUrl)) problems.push("APP_URL");
  if (!development && !raw.POSTMARK_SERVER_TOKEN) problems.push("POSTMARK_SERVER_TOKEN");
  const corsOrigins = list(raw.CORS_ORIGINS);
  if (corsOrigins.some((o) => !/^https?:\/\/[^/\s]+$/.test(o))) problems.push("CORS_ORIGINS");
  // Retention is not a safety setting: a value that is not a whole number of days keeps the default.
  const days = Number(raw.ACTIVITY_RETENTION_DAYS);
  const retention = Number.isInteger(days) && days > 0 ? days : 400;
  // A cheaper scrypt keeps a test suite that hashes thousands of passwords quick; never in production.
  const cost = raw.PASSWORD_HASH_COST ? Number(raw.PASSWORD_HASH_COST) : STANDARD_COST;
  const powerOfTwo = Number.isInteger(cost) && cost >= 2 && (cost & (cost - 1)) === 0;
  if (!powerOfTwo || (!development && cost < STANDARD_COST)) problems.push("PASSWORD_HASH_COST");
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      development,
      appUrl,
      emailFrom: raw.EMAIL_FROM || "no-reply@example.test",
      postmark: {
        serverToken: raw.POSTMARK_SERVER_TOKEN || null,
        apiUrl: raw.POSTMARK_API_URL || "https://api.postmarkapp.com",
      },
      jwtKeys: list(jwt),
      platformToken,
      encryptionKey,
      passwords: { pepper: raw.PASSWORD_PEPPER || null, cost },
      activityRetentionDays: retention,
      corsOrigins,
    },
  };
}

// Keyed by the env object: an isolate sees one, and tests may hand the worker another.
const loaded = new WeakMap<object, Loaded>();
let announced = false;

export function loadConfig(env: Bindings): Loaded {
  let result = loaded.get(env);
  if (!result) {
    result = parse(env);
    loaded.set(env, result);
    if (result.ok && result.config.development && !announced) {
      announced = true;
      console.log(
        "ENVIRONMENT=development: development defaults for secrets, the mail outbox and http links are on.",
      );
    }
  }
  return result;
}

/** The configuration, for code that only runs once a request has passed the check. */
export function configOf(env: Bindings): Config {
  const result = loadConfig(env);
  if (!result.ok) throw new Error(`misconfigured: ${result.problems.join(", ")}`);
  return result.config;
}

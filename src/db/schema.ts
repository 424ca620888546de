/**
 * The whole data model. Every tenant row carries `account_id`, so
 * each query can be scoped to one account and accounts can later be sharded across
 * databases. Times are integer milliseconds since the epoch; the API shows ISO strings.
 * The SQL in `migrations/` is the source of truth for the database; keep both in step.
 */
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

const ms = (name: string) => integer(name);
const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();

export const plans = sqliteTable("plans", {
  id: text("id").primaryKey(),
  userLimit: integer("user_limit").notNull(),
  deviceLimit: integer("device_limit").notNull(),
  features: json<string[]>("features").notNull(),
});

export const resellers = sqliteTable("resellers", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull(),
  createdAt: ms("created_at").notNull(),
});

export interface AccountSettings {
  invitation_ttl_hours: number;
}

export const accounts = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  planId: text("plan_id").notNull(),
  userLimit: integer("user_limit"),
  deviceLimit: integer("device_limit"),
  resellerId: text("reseller_id"),
  settings: json<AccountSettings>("settings").notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

/**
 * What each account uses against its limits, kept by triggers (see its migration) so the
 * capacity rule reads three numbers instead of counting rows.
 */
export const accountUsage = sqliteTable("account_usage", {
  accountId: text("account_id").primaryKey(),
  activeUsers: integer("active_users").notNull(),
  pendingInvitations: integer("pending_invitations").notNull(),
  devices: integer("devices").notNull(),
});

type UserStatus = "active" | "disabled";
export type CreatedVia = "invitation" | "manual" | "sso" | "scim" | "import" | "bootstrap";

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  email: text("email").notNull(),
  pendingEmail: text("pending_email"),
  firstName: text("first_name").notNull(),
  lastName: text("last_name").notNull(),
  passwordHash: text("password_hash"),
  mustChangePassword: integer("must_change_password", { mode: "boolean" }).notNull(),
  status: text("status").$type<UserStatus>().notNull(),
  createdVia: text("created_via").$type<CreatedVia>().notNull(),
  createdBy: text("created_by"),
  emailVerifiedAt: ms("email_verified_at"),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
  lastLoginAt: ms("last_login_at"),
  lastLoginIp: text("last_login_ip"),
  lastLoginMethod: text("last_login_method"),
  /** The identity provider's id for the user (SCIM `externalId`), when provisioned over SCIM. */
  externalId: text("external_id"),
});

export const groups = sqliteTable("groups", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  name: text("name").notNull(),
  description: text("description"),
  builtin: text("builtin").$type<"administrators" | "members">(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
  /** SCIM reaches only groups it created; the others are the administrators'. */
  createdVia: text("created_via").$type<"manual" | "scim">().notNull().default("manual"),
  externalId: text("external_id"),
});

export interface GrantScope {
  device_organization_ids?: string[];
  content_types?: string[];
}

export const grants = sqliteTable("grants", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  groupId: text("group_id").notNull(),
  permission: text("permission").notNull(),
  scope: json<GrantScope>("scope"),
});

export const groupMemberships = sqliteTable(
  "group_memberships",
  {
    accountId: text("account_id").notNull(),
    groupId: text("group_id").notNull(),
    userId: text("user_id").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] })],
);

export const sessions = sqliteTable("sessions", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  userId: text("user_id").notNull(),
  method: text("method").notNull(),
  ip: text("ip"),
  userAgent: text("user_agent"),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  revokedAt: ms("revoked_at"),
  /** Login, then every refresh: access tokens are short-lived, so refresh is where use shows. */
  lastUsedAt: ms("last_used_at").notNull(),
});

export const refreshTokens = sqliteTable("refresh_tokens", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  sessionId: text("session_id").notNull(),
  tokenHash: text("token_hash").notNull(),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  replacedBy: text("replaced_by"),
});

export const apiTokens = sqliteTable("api_tokens", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  userId: text("user_id").notNull(),
  name: text("name").notNull(),
  secretHash: text("secret_hash").notNull(),
  permissions: json<string[]>("permissions").notNull(),
  expiresAt: ms("expires_at"),
  lastUsedAt: ms("last_used_at"),
  createdAt: ms("created_at").notNull(),
  revokedAt: ms("revoked_at"),
});

export const deviceOrganizations = sqliteTable("device_organizations", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  name: text("name").notNull(),
  createdAt: ms("created_at").notNull(),
});

export const devices = sqliteTable("devices", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  deviceOrganizationId: text("device_organization_id").notNull(),
  name: text("name").notNull(),
  status: text("status").notNull(),
  createdVia: text("created_via").$type<"provisioned" | "paired">().notNull(),
  createdAt: ms("created_at").notNull(),
  secretHash: text("secret_hash"),
});

export type InvitationStatus = "pending" | "accepted" | "revoked" | "expired";
export type EmailDelivery = "queued" | "sent" | "failed";

export const invitations = sqliteTable("invitations", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  email: text("email").notNull(),
  groupIds: json<string[]>("group_ids").notNull(),
  status: text("status").$type<InvitationStatus>().notNull(),
  tokenHash: text("token_hash").notNull(),
  expiresAt: ms("expires_at").notNull(),
  invitedBy: text("invited_by"),
  createdAt: ms("created_at").notNull(),
  acceptedAt: ms("accepted_at"),
  revokedAt: ms("revoked_at"),
  userId: text("user_id"),
  emailDelivery: text("email_delivery").$type<EmailDelivery>().notNull().default("sent"),
  /** The mail owed now: a queue message for another one is stale. */
  mailId: text("mail_id"),
  /** When that mail was last queued or attempted (the cron re-queues it when long quiet). */
  mailTouchedAt: ms("mail_touched_at"),
});

export const activityEvents = sqliteTable("activity_events", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  type: text("type").notNull(),
  occurredAt: ms("occurred_at").notNull(),
  actorType: text("actor_type").notNull(),
  actorId: text("actor_id"),
  subjectType: text("subject_type"),
  subjectId: text("subject_id"),
  method: text("method"),
  ip: text("ip"),
  userAgent: text("user_agent"),
  metadata: json<Record<string, unknown>>("metadata").notNull(),
  streamedAt: ms("streamed_at"),
});

/** Failed-login counters, one fixed window per key (`pair:`, `email:`, `ip:`). */
export const loginThrottle = sqliteTable("login_throttle", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull(),
  windowStartedAt: ms("window_started_at").notNull(),
});

/** Inserting a row aborts the surrounding batch with `guard:<code>` (see the trigger). */
export const batchGuards = sqliteTable("batch_guards", {
  code: text("code").notNull(),
});

/** A code a device shows until an admin claims it; unowned until then. */
export const devicePairings = sqliteTable("device_pairings", {
  code: text("code").primaryKey(),
  secretHash: text("secret_hash").notNull(),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  accountId: text("account_id"),
  deviceId: text("device_id"),
});

export type UserTokenKind = "email_verification" | "password_reset" | "email_change_cancel";

/** Single-use tokens mailed to a user (a new email's verification, its cancellation, a password reset). */
export const userTokens = sqliteTable("user_tokens", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  userId: text("user_id").notNull(),
  kind: text("kind").$type<UserTokenKind>().notNull(),
  tokenHash: text("token_hash").notNull(),
  email: text("email"),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  usedAt: ms("used_at"),
  supersededAt: ms("superseded_at"),
});

export const webhookEndpoints = sqliteTable("webhook_endpoints", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  url: text("url").notNull(),
  description: text("description"),
  events: json<string[]>("events").notNull(),
  secret: text("secret").notNull(),
  previousSecret: text("previous_secret"),
  previousSecretExpiresAt: ms("previous_secret_expires_at"),
  status: text("status").$type<"enabled" | "disabled">().notNull(),
  disabledReason: text("disabled_reason"),
  disabledAt: ms("disabled_at"),
  consecutiveFailures: integer("consecutive_failures").notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const webhookDeliveries = sqliteTable("webhook_deliveries", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  endpointId: text("endpoint_id").notNull(),
  eventId: text("event_id").notNull(),
  eventType: text("event_type").notNull(),
  payload: text("payload").notNull(),
  status: text("status").$type<"pending" | "succeeded" | "failed">().notNull(),
  attempts: integer("attempts").notNull(),
  lastStatusCode: integer("last_status_code"),
  lastError: text("last_error"),
  nextAttemptAt: ms("next_attempt_at"),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    attemptedAt: ms("attempted_at").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);

/** SCIM bearer tokens of an account (`scim_<id>.<secret>`; only the secret's digest kept). */
export const scimTokens = sqliteTable("scim_tokens", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  name: text("name").notNull(),
  secretHash: text("secret_hash").notNull(),
  createdBy: text("created_by"),
  createdAt: ms("created_at").notNull(),
  lastUsedAt: ms("last_used_at"),
  revokedAt: ms("revoked_at"),
});

export type PlanRow = typeof plans.$inferSelect;
export type AccountRow = typeof accounts.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type GroupRow = typeof groups.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type DeviceOrganizationRow = typeof deviceOrganizations.$inferSelect;
export type DeviceRow = typeof devices.$inferSelect;
export type InvitationRow = typeof invitations.$inferSelect;
export type ActivityEventRow = typeof activityEvents.$inferSelect;
export type UserTokenRow = typeof userTokens.$inferSelect;

export type SsoGroupMapping = Record<string, string[]>;

export const ssoConnections = sqliteTable("sso_connections", {
  accountId: text("account_id").primaryKey(),
  issuer: text("issuer").notNull(),
  clientId: text("client_id").notNull(),
  clientSecretEnc: text("client_secret_enc").notNull(),
  ssoRequired: integer("sso_required", { mode: "boolean" }).notNull(),
  jitEnabled: integer("jit_enabled", { mode: "boolean" }).notNull(),
  defaultGroupIds: json<string[]>("default_group_ids").notNull(),
  groupClaim: text("group_claim").notNull(),
  groupMapping: json<SsoGroupMapping>("group_mapping").notNull(),
  savedBy: text("saved_by"),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const ssoDomains = sqliteTable(
  "sso_domains",
  {
    accountId: text("account_id").notNull(),
    domain: text("domain").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.domain] })],
);

export const ssoIdentities = sqliteTable(
  "sso_identities",
  {
    accountId: text("account_id").notNull(),
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    userId: text("user_id").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.issuer, t.subject] })],
);

export const ssoLoginCodes = sqliteTable("sso_login_codes", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  userId: text("user_id").notNull(),
  codeHash: text("code_hash").notNull(),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  usedAt: ms("used_at"),
});

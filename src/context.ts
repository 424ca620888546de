/** Types shared by every module: bindings, the authenticated principal and the domain context. */
import type { EffectiveGrant } from "./authz/authorize";
import type { AccountCapacity } from "./capacity/account-object";
import type { Config } from "./config";
import type { Database } from "./db/client";
import type { accounts, plans, users } from "./db/schema";
import type { Preloaded } from "./http/preload";
import type { StreamMessage } from "./webhooks/delivery";

export type Bindings = Omit<Env, "ACCOUNT"> & {
  ACCOUNT: DurableObjectNamespace<AccountCapacity>;
  /** Secrets (`wrangler secret put`; `.dev.vars` locally). Read only by src/config.ts. */
  JWT_SIGNING_KEY?: string;
  PLATFORM_ADMIN_TOKEN?: string;
  ENCRYPTION_KEY?: string;
  POSTMARK_SERVER_TOKEN?: string;
  PASSWORD_PEPPER?: string;
};

export type UserRow = typeof users.$inferSelect;
export type AccountRow = typeof accounts.$inferSelect;
export type PlanRow = typeof plans.$inferSelect;

export type AuthMethod = "password" | "sso" | "api_token" | "scim";

export interface Principal {
  kind: "session" | "api_token";
  accountId: string;
  userId: string;
  sessionId: string | null;
  tokenId: string | null;
  method: AuthMethod;
  user: UserRow;
  account: AccountRow;
  plan: PlanRow;
  groupIds: string[];
  groups: { id: string; name: string }[];
  /** The account's built-in Members group, where new users go by default. */
  membersGroupId: string;
  grants: EffectiveGrant[];
}

/**
 * An identity provider holding a SCIM token: it acts for the account, not for any user,
 * and reaches only `/scim/v2`.
 */
export interface ScimClient {
  tokenId: string;
  accountId: string;
  /** Who made the token: a SCIM token acts on users only within its creator's authority. */
  createdBy: string | null;
  account: AccountRow;
  plan: PlanRow;
  membersGroupId: string;
}

interface RequestMeta {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

/** What a domain function needs: no HTTP, so it can be called from a queue, a cron or a test. */
export interface Ctx {
  db: Database;
  /** Bindings (D1, KV, queue, Durable Objects); settings come from `config`. */
  env: Bindings;
  config: Config;
  now: number;
  meta: RequestMeta;
  /** D1 round trips made for this request, including those the account object makes for it. */
  roundTrips: { count: number };
  waitUntil(promise: Promise<unknown>): void;
  /**
   * Hands messages to the EVENTS queue, best effort: a lost send loses nothing, the cron
   * sends again what the database still owes. A request holds them until it has answered
   * and sends them all at once.
   */
  send(messages: StreamMessage[]): void;
}

/** A domain context acting for an identity provider over SCIM. */
export interface ScimCtx extends Ctx {
  scim: ScimClient;
}

/** A domain context acting for an authenticated principal. */
export interface AuthedCtx extends Ctx {
  principal: Principal;
}

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    principal: Principal;
    ctx: Ctx;
    scim: ScimClient;
    preloaded?: Preloaded;
  };
};

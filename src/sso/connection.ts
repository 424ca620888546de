/**
 * An account's Team Login connection: one OpenID Provider, the email domains it routes, who
 * it may create and which groups its claims map to. Saving it fetches the issuer's discovery
 * document, so a connection that cannot work is refused when it is made, not at first login.
 */
import { by } from "../activity/record";
import { authorityOf } from "../authz/delegation";
import { groupsWithin } from "../authz/repo";
import type { AuthedCtx, Ctx } from "../context";
import { guard } from "../db/batch";
import { commit } from "../db/commit";
import type { SsoGroupMapping } from "../db/schema";
import * as groupsRepo from "../groups/repo";
import { appLink } from "../http/links";
import { iso } from "../lib/clock";
import { AppError } from "../lib/errors";
import { seal } from "../lib/secret-box";
import { discover, issuerAllowed } from "./oidc";
import * as repo from "./repo";

export interface ConnectionInput {
  issuer: string;
  client_id: string;
  client_secret?: string;
  domains: string[];
  sso_required?: boolean;
  jit: { enabled: boolean; default_group_ids: string[] };
  group_claim?: string;
  group_mapping?: SsoGroupMapping;
}

/** Where the IdP sends the browser back: registered at the IdP as the client's redirect URI. */
export const redirectUri = (ctx: Ctx) => appLink(ctx, "/v1/sso/callback");

function toConnectionDto(
  ctx: Ctx,
  found: { connection: repo.SsoConnectionRow; domains: string[] },
) {
  const c = found.connection;
  return {
    issuer: c.issuer,
    client_id: c.clientId,
    domains: found.domains,
    sso_required: c.ssoRequired,
    jit: { enabled: c.jitEnabled, default_group_ids: c.defaultGroupIds },
    group_claim: c.groupClaim,
    group_mapping: c.groupMapping,
    redirect_uri: redirectUri(ctx),
    created_at: iso(c.createdAt)!,
    updated_at: iso(c.updatedAt)!,
  };
}

export async function getConnection(ctx: AuthedCtx) {
  const found = await repo.findConnection(ctx.db, ctx.principal.accountId);
  if (!found) throw new AppError("not_found", "The account has no Team Login connection.");
  return toConnectionDto(ctx, found);
}

const invalid = (path: string, message: string) =>
  new AppError("validation_failed", message, {
    errors: [{ path, code: "invalid", message }],
  });

export async function putConnection(ctx: AuthedCtx, input: ConnectionInput) {
  const { db, now, principal, config } = ctx;
  const { accountId } = principal;
  const issuer = new URL(input.issuer);
  if (!issuerAllowed(config, issuer)) {
    throw invalid("issuer", "The issuer must be an https URL.");
  }
  const existing = await repo.findConnection(db, accountId);
  if (!existing && !input.client_secret) {
    throw invalid("client_secret", "client_secret is required when the connection is created.");
  }
  await discover(ctx, input.issuer, { fresh: true });

  const domains = [...new Set(input.domains.map((d) => d.toLowerCase()))].sort();
  const mapping = input.group_mapping ?? {};
  const mapped = [...new Set(Object.values(mapping).flat())];
  const defaults = [...new Set(input.jit.default_group_ids)];
  const row: repo.SsoConnectionRow = {
    accountId,
    issuer: input.issuer,
    clientId: input.client_id,
    clientSecretEnc: input.client_secret
      ? await seal(config.encryptionKey, accountId, input.client_secret)
      : existing!.connection.clientSecretEnc,
    ssoRequired: input.sso_required ?? false,
    jitEnabled: input.jit.enabled,
    defaultGroupIds: defaults,
    groupClaim: input.group_claim ?? "groups",
    groupMapping: mapping,
    savedBy: principal.userId,
    createdAt: existing?.connection.createdAt ?? now,
    updatedAt: now,
  };
  // An sso:manage holder must not map an IdP group to more than they hold themselves.
  const authority = authorityOf(principal.grants);
  await commit(
    ctx,
    [
      guard(
        "validation_failed",
        groupsRepo.allGroupsExist(accountId, defaults),
        "jit.default_group_ids",
      ),
      guard("validation_failed", groupsRepo.allGroupsExist(accountId, mapped), "group_mapping"),
      guard("permission_not_held", groupsWithin(accountId, authority, [...defaults, ...mapped])),
      repo.upsertConnection(db, accountId, row),
      repo.deleteDomains(db, accountId),
      repo.insertDomains(accountId, domains, now),
    ],
    [
      {
        type: "sso_connection.updated",
        ...by(principal),
        subject: { type: "sso_connection", id: accountId },
        metadata: {
          created: !existing,
          issuer: row.issuer,
          client_id: row.clientId,
          client_secret_changed: !!input.client_secret,
          domains,
          sso_required: row.ssoRequired,
          jit_enabled: row.jitEnabled,
          default_group_ids: defaults,
          group_claim: row.groupClaim,
          group_mapping: mapping,
        },
      },
    ],
  );
  return toConnectionDto(ctx, { connection: row, domains });
}

export async function deleteConnection(ctx: AuthedCtx) {
  const { db, principal } = ctx;
  const { accountId } = principal;
  const found = await repo.findConnection(db, accountId);
  if (!found) throw new AppError("not_found", "The account has no Team Login connection.");
  // Linked identities stay: a connection made again for the same issuer finds its users.
  await commit(
    ctx,
    [repo.deleteDomains(db, accountId), repo.deleteConnection(db, accountId)],
    [
      {
        type: "sso_connection.deleted",
        ...by(principal),
        subject: { type: "sso_connection", id: accountId },
        metadata: { issuer: found.connection.issuer, domains: found.domains },
      },
    ],
  );
}

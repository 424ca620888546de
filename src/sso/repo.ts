/**
 * Data access for Team Login: connections, their domains, linked IdP identities and the
 * one-time login codes. Every function takes the account id first, except the lookups named
 * `…AcrossAccounts`, which say why they may look across.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { type BatchResult, guard } from "../db/batch";
import type { Database } from "../db/client";
import type { Bindable } from "../db/compiled";
import {
  accounts,
  plans,
  ssoConnections,
  ssoDomains,
  ssoIdentities,
  ssoLoginCodes,
  users,
} from "../db/schema";

export type SsoConnectionRow = typeof ssoConnections.$inferSelect;

const domainList = sql<string>`(SELECT json_group_array(domain) FROM (SELECT d.domain
  FROM sso_domains d WHERE d.account_id = ${ssoConnections}.account_id ORDER BY d.domain))`;

const parseDomains = (raw: string) => JSON.parse(raw) as string[];

export async function findConnection(db: Database, accountId: string) {
  const [row] = await db
    .select({ connection: ssoConnections, domains: domainList })
    .from(ssoConnections)
    .where(eq(ssoConnections.accountId, accountId));
  return row ? { connection: row.connection, domains: parseDomains(row.domains) } : null;
}

/** What a login needs besides the connection: the account's plan, to check it still has Team Login. */
function loginTarget(db: Database) {
  return db
    .select({ connection: ssoConnections, domains: domainList, plan: plans })
    .from(ssoConnections)
    .innerJoin(accounts, eq(accounts.id, ssoConnections.accountId))
    .innerJoin(plans, eq(plans.id, accounts.planId));
}

function parseTarget(
  row:
    | { connection: SsoConnectionRow; domains: string; plan: typeof plans.$inferSelect }
    | undefined,
) {
  return row ? { ...row, domains: parseDomains(row.domains) } : null;
}

export type LoginTarget = NonNullable<ReturnType<typeof parseTarget>>;

export async function findLoginTarget(db: Database, accountId: string) {
  const [row] = await loginTarget(db).where(eq(ssoConnections.accountId, accountId));
  return parseTarget(row);
}

/**
 * The connection that routes an email domain. Across accounts on purpose: a login that
 * starts from an email presents nothing else, and a domain belongs to one account at most.
 */
export async function findLoginTargetByDomainAcrossAccounts(db: Database, domain: string) {
  const [row] = await loginTarget(db).where(
    sql`${ssoConnections.accountId} = (SELECT account_id FROM sso_domains WHERE domain = ${domain})`,
  );
  return parseTarget(row);
}

export function upsertConnection(db: Database, accountId: string, row: SsoConnectionRow) {
  const { createdAt: _created, accountId: _account, ...changes } = row;
  return db
    .insert(ssoConnections)
    .values({ ...row, accountId })
    .onConflictDoUpdate({ target: ssoConnections.accountId, set: changes });
}

export function deleteConnection(db: Database, accountId: string) {
  return db.delete(ssoConnections).where(eq(ssoConnections.accountId, accountId));
}

export function deleteDomains(db: Database, accountId: string) {
  return db.delete(ssoDomains).where(eq(ssoDomains.accountId, accountId));
}

/** One JSON parameter however many domains: D1 allows 100 bound parameters per statement. */
export function insertDomains(accountId: string, domains: string[], now: number) {
  return sql`INSERT INTO sso_domains (account_id, domain, created_at)
    SELECT ${accountId}, value, ${now} FROM json_each(${JSON.stringify(domains)})`;
}

const hasTeamLogin = sql`EXISTS (SELECT 1 FROM json_each(${plans.features}) WHERE value = 'team_login')`;

/**
 * The Team Login requirement that covers an email domain, as a statement for the login's
 * batch: a row when an account routes the domain, requires SSO and still has Team Login in
 * its plan, with that account's Administrators group. Across accounts on purpose: a password
 * login presents only the email.
 */
export function selectSsoRequirementAcrossAccounts(db: Database, domain: string) {
  return db
    .select({
      accountId: ssoDomains.accountId,
      administratorsGroupId: sql<string | null>`(SELECT g.id FROM groups g
        WHERE g.account_id = ${ssoDomains.accountId} AND g.builtin = 'administrators')`.as(
        "administrators_group_id",
      ),
    })
    .from(ssoDomains)
    .innerJoin(ssoConnections, eq(ssoConnections.accountId, ssoDomains.accountId))
    .innerJoin(accounts, eq(accounts.id, ssoDomains.accountId))
    .innerJoin(plans, eq(plans.id, accounts.planId))
    .where(and(eq(ssoDomains.domain, domain), eq(ssoConnections.ssoRequired, true), hasTeamLogin));
}

export function ssoRequirementFromResult(result: BatchResult) {
  const row = result.rows[0];
  if (!row) return null;
  return {
    accountId: String(row.account_id),
    administratorsGroupId: (row.administrators_group_id as string | null) ?? null,
  };
}

/** The Team Login requirement for a domain, read on its own (self-service password reset). */
export async function findSsoRequirementAcrossAccounts(db: Database, domain: string) {
  const [row] = await selectSsoRequirementAcrossAccounts(db, domain);
  return row ?? null;
}

/** For an invitation's batch: the account itself does not require Team Login for the domain. */
export function accountNotRequiringSso(accountId: Bindable<string>, domain: Bindable<string>): SQL {
  return sql`NOT EXISTS (SELECT 1 FROM sso_domains d
    JOIN sso_connections c ON c.account_id = d.account_id
    JOIN accounts a ON a.id = d.account_id
    JOIN plans p ON p.id = a.plan_id
    WHERE d.account_id = ${accountId} AND d.domain = ${domain} AND c.sso_required = 1
      AND EXISTS (SELECT 1 FROM json_each(p.features) WHERE value = 'team_login'))`;
}

/** The user an IdP identity is linked to. */
export async function findIdentityUser(
  db: Database,
  accountId: string,
  issuer: string,
  subject: string,
) {
  const [row] = await db
    .select({ user: users })
    .from(ssoIdentities)
    .innerJoin(users, eq(users.id, ssoIdentities.userId))
    .where(
      and(
        eq(ssoIdentities.accountId, accountId),
        eq(ssoIdentities.issuer, issuer),
        eq(ssoIdentities.subject, subject),
        eq(users.accountId, accountId),
      ),
    );
  return row?.user ?? null;
}

/** Links an identity; linking the same identity twice (two racing first logins) is a no-op. */
export function linkIdentity(
  accountId: string,
  identity: { issuer: string; subject: string; userId: string },
  now: number,
) {
  return sql`INSERT OR IGNORE INTO sso_identities (account_id, issuer, subject, user_id, created_at)
    VALUES (${accountId}, ${identity.issuer}, ${identity.subject}, ${identity.userId}, ${now})`;
}

/**
 * Sets the user's memberships among `managed` (the groups the mapping decides) to `wanted`,
 * keeping every other membership, and always Members. Only groups of the account are added.
 */
export function applyMappedMemberships(
  accountId: string,
  userId: string,
  managed: string[],
  wanted: string[],
  now: number,
) {
  const drop = managed.filter((id) => !wanted.includes(id));
  return [
    sql`DELETE FROM group_memberships WHERE account_id = ${accountId} AND user_id = ${userId}
      AND group_id IN (SELECT value FROM json_each(${JSON.stringify(drop)}))
      AND group_id NOT IN (SELECT id FROM groups WHERE account_id = ${accountId} AND builtin = 'members')`,
    sql`INSERT OR IGNORE INTO group_memberships (account_id, group_id, user_id, created_at)
      SELECT ${accountId}, g.id, ${userId}, ${now} FROM groups g
      WHERE g.account_id = ${accountId}
        AND (g.id IN (SELECT value FROM json_each(${JSON.stringify(wanted)})) OR g.builtin = 'members')`,
  ];
}

export function insertLoginCode(db: Database, row: typeof ssoLoginCodes.$inferInsert) {
  return db.insert(ssoLoginCodes).values(row);
}

/**
 * A login code with its user, by the digest of the code. Across accounts on purpose: the
 * code is all the exchange presents.
 */
export async function findLoginCodeAcrossAccounts(db: Database, codeHash: string) {
  const [row] = await db
    .select({ code: ssoLoginCodes, user: users })
    .from(ssoLoginCodes)
    .innerJoin(users, eq(users.id, ssoLoginCodes.userId))
    .where(eq(ssoLoginCodes.codeHash, codeHash));
  return row ?? null;
}

/** Guard: the code is still unused and unexpired at commit time, so one exchange wins a race. */
export function guardLoginCodeUsable(accountId: string, id: string, now: number) {
  return guard(
    "sso_code_invalid",
    sql`EXISTS (SELECT 1 FROM sso_login_codes WHERE account_id = ${accountId} AND id = ${id}
      AND used_at IS NULL AND expires_at > ${now})`,
  );
}

export function markLoginCodeUsed(db: Database, accountId: string, id: string, now: number) {
  return db
    .update(ssoLoginCodes)
    .set({ usedAt: now })
    .where(and(eq(ssoLoginCodes.accountId, accountId), eq(ssoLoginCodes.id, id)));
}

/**
 * Deletes up to `chunk` login codes that can no longer be exchanged (used or expired).
 * Across accounts on purpose: the cron's sweep.
 */
export function pruneLoginCodesAcrossAccounts(now: number, chunk: number) {
  return sql`DELETE FROM sso_login_codes WHERE id IN (SELECT id FROM sso_login_codes
    WHERE used_at IS NOT NULL OR expires_at <= ${now} LIMIT ${chunk})`;
}

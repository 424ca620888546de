/**
 * Loads a principal (user, account, plan, session or token) and its effective grants in
 * one D1 round trip: a single query whose grants come as a JSON column. Grants are read
 * live on every request, so a membership or grant change applies to the very next one.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { EffectiveGrant } from "../authz/authorize";
import type { Database } from "../db/client";
import { batchReads } from "../db/read";
import { accounts, apiTokens, type GrantScope, plans, sessions, users } from "../db/schema";

/** The user's memberships (group id and name) with each group's grants, as a JSON array. */
const grantsJson = (
  userId: SQL | typeof users.id,
) => sql<string>`(SELECT json_group_array(json_object(
    'group_id', m.group_id, 'group_name', g.name, 'permission', gr.permission, 'scope', json(gr.scope)))
  FROM group_memberships m JOIN groups g ON g.id = m.group_id LEFT JOIN grants gr ON gr.group_id = m.group_id
  WHERE m.user_id = ${userId})`;

/** The account's Members group, the default for new users: one subquery, no extra round trip. */
const membersGroupId = sql<string>`(SELECT g.id FROM groups g WHERE g.account_id = ${users.accountId} AND g.builtin = 'members')`;

interface GrantJsonRow {
  group_id: string;
  group_name: string;
  permission: string | null;
  scope: GrantScope | null;
}

function parseGrants(json: string) {
  const rows = JSON.parse(json) as GrantJsonRow[];
  const names = new Map(rows.map((r) => [r.group_id, r.group_name]));
  const groups = [...names]
    .map(([id, name]) => ({ id, name }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const grants: EffectiveGrant[] = rows
    .filter((r) => r.permission !== null)
    .map((r) => ({ groupId: r.group_id, permission: r.permission!, scope: r.scope ?? null }));
  return { groupIds: groups.map((g) => g.id), groups, grants };
}

function sessionPrincipalQuery(db: Database, accountId: string, sessionId: string, userId: string) {
  return db
    .select({
      session: sessions,
      user: users,
      account: accounts,
      plan: plans,
      grants: grantsJson(users.id),
      membersGroupId,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(accounts, eq(accounts.id, users.accountId))
    .innerJoin(plans, eq(plans.id, accounts.planId))
    .where(
      and(
        eq(sessions.accountId, accountId),
        eq(sessions.id, sessionId),
        eq(sessions.userId, userId),
      ),
    );
}

type SessionPrincipalRow = Awaited<ReturnType<typeof sessionPrincipalQuery>>[number];
const withGrants = (row: SessionPrincipalRow | undefined) =>
  row ? { ...row, ...parseGrants(row.grants) } : null;

/**
 * The session's principal; the access token names the account, so the lookup is scoped to
 * it. With `alongside` (a read of the same account), that query runs in the same D1 batch and
 * its raw rows come back too: the caller decides from the principal whether to use them.
 */
export async function loadSessionPrincipal(
  db: Database,
  accountId: string,
  sessionId: string,
  userId: string,
  alongside?: BatchItem<"sqlite">,
) {
  const query = sessionPrincipalQuery(db, accountId, sessionId, userId);
  if (!alongside) return { found: withGrants((await query)[0]), alongside: undefined };
  const [rows, other] = await batchReads(db, [{ query, joined: true }, { query: alongside }]);
  return { found: withGrants((rows as SessionPrincipalRow[])[0]), alongside: other };
}

/**
 * An API token's principal. Across accounts on purpose: the token's id is all the caller
 * presents, and its secret is checked against the row found here.
 */
export async function loadTokenPrincipalAcrossAccounts(db: Database, tokenId: string) {
  const rows = await db
    .select({
      token: apiTokens,
      user: users,
      account: accounts,
      plan: plans,
      grants: grantsJson(users.id),
      membersGroupId,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .innerJoin(accounts, eq(accounts.id, users.accountId))
    .innerJoin(plans, eq(plans.id, accounts.planId))
    .where(eq(apiTokens.id, tokenId));
  const row = rows[0];
  return row ? { ...row, ...parseGrants(row.grants) } : null;
}

/**
 * Loads a principal (user, account, plan, session or token) and its effective grants in
 * one D1 round trip: a single query whose grants come as a JSON column. Grants are read
 * live on every request, so a membership or grant change applies to the very next one.
 */
import type { EffectiveGrant } from "../authz/authorize";
import type { Database } from "../db/client";
import { columnsOf, valuesOf } from "../db/compiled";
import { batchReads, type Statement } from "../db/read";
import { accounts, apiTokens, type GrantScope, plans, sessions, users } from "../db/schema";

/** What authentication reads of a session: its id, how it began, and its lifetimes. */
const session = columnsOf(sessions, "s", [
  "id",
  "method",
  "createdAt",
  "expiresAt",
  "revokedAt",
  "lastUsedAt",
]);
const token = columnsOf(apiTokens, "t");
const user = columnsOf(users, "u");
const account = columnsOf(accounts, "a");
const plan = columnsOf(plans, "p");

/**
 * The user's memberships (group id and name) with each group's grants as a JSON array, and
 * the account's Members group (the default for new users): subqueries, no extra round trip.
 */
const PRINCIPAL_COLUMNS = `${user.list}, ${account.list}, ${plan.list},
  (SELECT json_group_array(json_array(g.id, g.name, json((SELECT
      json_group_array(json_array(gr.permission, json(gr.scope))) FROM grants gr WHERE gr.group_id = g.id))))
    FROM group_memberships m JOIN groups g ON g.id = m.group_id
    WHERE m.user_id = u.id) AS grants_json,
  (SELECT g.id FROM groups g WHERE g.account_id = u.account_id AND g.builtin = 'members') AS members_group_id`;

/** The owner of the session or token aliased `by`, their account and its plan. */
const principalJoins = (by: string) => `JOIN users u ON u.id = ${by}.user_id
  JOIN accounts a ON a.id = u.account_id
  JOIN plans p ON p.id = a.plan_id`;

const SESSION_PRINCIPAL = `SELECT ${session.list}, ${PRINCIPAL_COLUMNS}
  FROM sessions s ${principalJoins("s")}
  WHERE s.account_id = ?1 AND s.id = ?2 AND s.user_id = ?3`;

const TOKEN_PRINCIPAL = `SELECT ${token.list}, ${PRINCIPAL_COLUMNS}
  FROM api_tokens t ${principalJoins("t")}
  WHERE t.id = ?1`;

/** A membership as the query gives it: compact, since it travels on every request. */
type GroupJson = [
  id: string,
  name: string,
  grants: [permission: string, scope: GrantScope | null][],
];

function parseGrants(json: string) {
  const memberships = (JSON.parse(json) as GroupJson[]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const groups = memberships.map(([id, name]) => ({ id, name }));
  const grants: EffectiveGrant[] = [];
  for (const [groupId, , held] of memberships) {
    for (const [permission, scope] of held)
      grants.push({ groupId, permission, scope: scope ?? null });
  }
  return { groupIds: groups.map((g) => g.id), groups, grants };
}

/** The principal's columns after the session's or token's, decoded. */
function principalOf(values: unknown[], at: number) {
  const u = user.decode(values, at);
  at += user.width;
  const a = account.decode(values, at);
  at += account.width;
  const p = plan.decode(values, at);
  at += plan.width;
  return {
    user: u,
    account: a,
    plan: p,
    ...parseGrants(values[at] as string),
    membersGroupId: values[at + 1] as string,
  };
}

/** A session principal from its row: an array (a lone query's raw rows) or a batch's keyed row. */
function sessionPrincipalOf(row: Record<string, unknown> | unknown[] | undefined) {
  if (!row) return null;
  const values = valuesOf(row);
  return { session: session.decode(values, 0), ...principalOf(values, session.width) };
}

function sessionPrincipal(db: Database, accountId: string, sessionId: string, userId: string) {
  return {
    statement: db.$client.prepare(SESSION_PRINCIPAL).bind(accountId, sessionId, userId),
    map: (result: D1Result<Record<string, unknown>>) => sessionPrincipalOf(result.results[0]),
  } satisfies Statement;
}

/**
 * The session's principal; the access token names the account, so the lookup is scoped to
 * it. With `alongside` (a read of the same account), that query runs in the same D1 batch and
 * its mapped rows come back too: the caller decides from the principal whether to use them.
 */
export async function loadSessionPrincipal(
  db: Database,
  accountId: string,
  sessionId: string,
  userId: string,
  alongside?: Statement,
) {
  const query = sessionPrincipal(db, accountId, sessionId, userId);
  if (!alongside) {
    // Alone, its row comes as an array: D1 need not key forty columns by name.
    const rows = await query.statement.raw();
    return { found: sessionPrincipalOf(rows[0]), alongside: undefined };
  }
  const [found, other] = await batchReads(db, [query, alongside]);
  return { found: found as ReturnType<typeof query.map>, alongside: other };
}

/**
 * An API token's principal. Across accounts on purpose: the token's id is all the caller
 * presents, and its secret is checked against the row found here.
 */
export async function loadTokenPrincipalAcrossAccounts(db: Database, tokenId: string) {
  const row = await db.$client
    .prepare(TOKEN_PRINCIPAL)
    .bind(tokenId)
    .raw()
    .then((r) => r[0]);
  if (!row) return null;
  return { token: token.decode(row, 0), ...principalOf(row, token.width) };
}

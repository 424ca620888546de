/**
 * Who an id_token signs in: the user linked to its `(issuer, sub)`, else a user of the account
 * with the same verified email (linked now), else a user created just in time. Every login
 * also re-applies the group mapping: the groups the mapping decides follow the claim, the
 * groups given by hand stay, and Members always.
 */
import type { EventInput } from "../activity/record";
import { authorityOf } from "../authz/delegation";
import { loadUserGrants, userWithin } from "../authz/repo";
import type { Ctx, UserRow } from "../context";
import { guard, type Statement } from "../db/batch";
import { commitTaking } from "../db/commit";
import { normalizeEmail } from "../lib/email";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as usersRepo from "../users/repo";
import * as repo from "./repo";

export interface IdTokenClaims {
  iss: string;
  sub: string;
  [claim: string]: unknown;
}

/** The change that signs the user in: statements for the login's own batch, and their events. */
export interface SignIn {
  user: UserRow;
  statements: Statement[];
  events: EventInput[];
}

const asStrings = (value: unknown): string[] => {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
};

function mappedGroups(target: repo.LoginTarget, claims: IdTokenClaims) {
  const mapping = target.connection.groupMapping;
  const managed = [...new Set(Object.values(mapping).flat())];
  const values = asStrings(claims[target.connection.groupClaim]);
  const wanted = [
    ...new Set(values.flatMap((v) => (Object.hasOwn(mapping, v) ? mapping[v]! : []))),
  ];
  return { managed, wanted };
}

function verifiedEmail(target: repo.LoginTarget, claims: IdTokenClaims) {
  const email = typeof claims.email === "string" ? normalizeEmail(claims.email) : null;
  const verified = claims.email_verified === true || claims.email_verified === "true";
  if (!email || !verified) {
    throw new AppError(
      "sso_email_unverified",
      "The identity provider did not give a verified email for this login.",
    );
  }
  const domain = email.slice(email.lastIndexOf("@") + 1);
  if (!target.domains.includes(domain)) {
    throw new AppError(
      "sso_domain_mismatch",
      "The email the identity provider gave is not in one of the connection's domains.",
    );
  }
  return email;
}

/**
 * An identity provider vouches for any email of its domains, so linking an existing user by
 * email is bounded by the authority of whoever saved the connection (none once they are
 * gone): an sso:manage holder cannot configure an IdP that signs them in as an administrator.
 * An administrator saving the connection lifts the bound for everyone.
 */
async function withinSaver(ctx: Ctx, target: repo.LoginTarget, userId: string) {
  const { accountId, savedBy } = target.connection;
  const saver = savedBy ? await loadUserGrants(ctx.db, accountId, savedBy) : null;
  const grants = saver?.status === "active" ? saver.grants : [];
  return guard("permission_not_held", userWithin(accountId, authorityOf(grants), userId));
}

const ssoActor = (userId: string) =>
  ({ actor: { type: "user", id: userId }, method: "sso" }) as const;

export async function signInFromClaims(
  ctx: Ctx,
  target: repo.LoginTarget,
  claims: IdTokenClaims,
): Promise<SignIn> {
  const { db, now } = ctx;
  const { accountId } = target.connection;
  const identity = { issuer: claims.iss, subject: claims.sub };
  const { managed, wanted } = mappedGroups(target, claims);

  const linked = await repo.findIdentityUser(db, accountId, identity.issuer, identity.subject);
  if (linked) return existingUser(ctx, linked, { managed, wanted }, []);

  const email = verifiedEmail(target, claims);
  const byEmail = await usersRepo.findByEmailAcrossAccounts(db, email);
  if (byEmail && byEmail.user.accountId !== accountId) {
    throw new AppError("email_taken", "This email belongs to a user of another account.");
  }
  if (byEmail) {
    const link = [
      await withinSaver(ctx, target, byEmail.user.id),
      repo.linkIdentity(accountId, { ...identity, userId: byEmail.user.id }, now),
    ];
    return existingUser(ctx, byEmail.user, { managed, wanted }, link);
  }
  if (!target.connection.jitEnabled) {
    throw new AppError(
      "sso_jit_disabled",
      "There is no user with this email, and the connection does not create users.",
    );
  }
  return { user: await provision(ctx, target, claims, email, wanted), statements: [], events: [] };
}

async function existingUser(
  ctx: Ctx,
  user: UserRow,
  groups: { managed: string[]; wanted: string[] },
  link: Statement[],
): Promise<SignIn> {
  if (user.status !== "active") throw new AppError("user_disabled", "This user has been disabled.");
  const { accountId, id } = user;
  const current = (await usersRepo.findUser(ctx.db, accountId, id))?.groupIds ?? [];
  const kept = current.filter((g) => !groups.managed.includes(g) || groups.wanted.includes(g));
  const added = groups.wanted.filter((g) => !current.includes(g));
  const events: EventInput[] = [];
  if (kept.length !== current.length || added.length > 0) {
    events.push({
      type: "user.groups_changed",
      accountId,
      ...ssoActor(id),
      subject: { type: "user", id },
      metadata: { from: current, to: [...kept, ...added].sort(), via: "sso" },
    });
  }
  const statements = [
    ...link,
    ...repo.applyMappedMemberships(accountId, id, groups.managed, groups.wanted, ctx.now),
  ];
  return { user, statements, events };
}

async function provision(
  ctx: Ctx,
  target: repo.LoginTarget,
  claims: IdTokenClaims,
  email: string,
  wanted: string[],
): Promise<UserRow> {
  const { db, now } = ctx;
  const { accountId } = target.connection;
  const name = typeof claims.name === "string" ? claims.name.trim() : "";
  const first =
    typeof claims.given_name === "string"
      ? claims.given_name
      : name.split(/\s+/)[0] || email.slice(0, email.indexOf("@"));
  const last =
    typeof claims.family_name === "string"
      ? claims.family_name
      : name.split(/\s+/).slice(1).join(" ");
  const user = usersRepo.newUserRow({
    id: newId("user"),
    accountId,
    email,
    firstName: first.slice(0, 100),
    lastName: last.slice(0, 100),
    passwordHash: null,
    createdVia: "sso",
    createdBy: null,
    emailVerifiedAt: now,
    now,
  });
  const groupIds = [...new Set([...target.connection.defaultGroupIds, ...wanted])];
  await commitTaking(
    ctx,
    { kind: "seat", accountId, by: ssoActor(user.id) },
    [
      usersRepo.guardEmailFreeAcrossAccounts(email),
      usersRepo.insertUser(db, user),
      repo.linkIdentity(
        accountId,
        { issuer: claims.iss, subject: claims.sub, userId: user.id },
        now,
      ),
      ...repo.applyMappedMemberships(accountId, user.id, [], groupIds, now),
    ],
    [
      {
        type: "user.created",
        accountId,
        ...ssoActor(user.id),
        subject: { type: "user", id: user.id },
        metadata: { created_via: "sso", created_by: null, email, group_ids: groupIds },
      },
    ],
  );
  return user;
}

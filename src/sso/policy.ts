/**
 * `sso_required`: for the emails of a connection's domains, password login, self-service
 * resets and invitations give way to Team Login. The account's administrators keep password
 * login as a break-glass, and nothing in the answers tells who is one.
 */
import type { Ctx } from "../context";
import { check } from "../db/batch";
import type { Bindable } from "../db/compiled";
import { appLink } from "../http/links";
import { AppError } from "../lib/errors";
import * as repo from "./repo";

export const domainOf = (email: string) => email.slice(email.lastIndexOf("@") + 1);

export function ssoRequired(ctx: Ctx, email: string) {
  const start = appLink(ctx, "/v1/sso/start", { email });
  return new AppError(
    "sso_required",
    "This email signs in through the organization's identity provider (Team Login).",
    { start_url: start },
  );
}

/** For the login's batch: the requirement covering the email's domain, if any. */
export const ssoRequirementStatement = (ctx: Ctx, email: string) =>
  repo.selectSsoRequirementAcrossAccounts(ctx.db, domainOf(email));

export const ssoRequirementFromResult = repo.ssoRequirementFromResult;

/**
 * Whether a password login may go ahead under the requirement: only with the right password,
 * and only for an administrator of the requiring account (or a user of another account,
 * which that account's setting does not govern).
 */
export function passwordLoginAllowed(
  requirement: ReturnType<typeof repo.ssoRequirementFromResult>,
  found: { user: { accountId: string }; groupIds: string[] } | null,
  passwordValid: boolean,
): boolean {
  if (!requirement) return true;
  if (!passwordValid || !found) return false;
  if (found.user.accountId !== requirement.accountId) return true;
  return (
    requirement.administratorsGroupId !== null &&
    found.groupIds.includes(requirement.administratorsGroupId)
  );
}

/** A self-service reset for an email of a requiring domain: refused whether or not the user exists. */
export async function refuseResetUnderSso(ctx: Ctx, email: string) {
  if (await repo.findSsoRequirementAcrossAccounts(ctx.db, domainOf(email))) {
    throw ssoRequired(ctx, email);
  }
}

/** For an invitation's guards: refused when the account signs the domain in through its IdP. */
export const invitationAllowedUnderSso = (accountId: Bindable<string>, domain: Bindable<string>) =>
  check("sso_required", repo.accountNotRequiringSso(accountId, domain));

/** The batch's bare `sso_required` refusal, given the start URL the answer carries. */
export const withSsoStartUrl = (ctx: Ctx, email: string) => (err: unknown) => {
  throw err instanceof AppError && err.code === "sso_required" ? ssoRequired(ctx, email) : err;
};

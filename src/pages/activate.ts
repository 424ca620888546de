/** `GET /activate?token=`: the invited person sets names and password in a browser. */

import { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../context";
import { consoleSignIn } from "../http/links";
import { acceptInvitation, lookupInvitation } from "../invitations/service";
import { iso } from "../lib/clock";
import { AppError } from "../lib/errors";
import { PASSWORD_MIN } from "../lib/password";
import { PersonName } from "../users/schemas";
import { alert, field, page, readForm, unreadableForm } from "./layout";

interface FormState {
  token: string;
  email: string;
  accountName: string;
  expiresAt: string;
  firstName?: string;
  lastName?: string;
  errors?: { form?: string; first_name?: string; last_name?: string; password?: string };
}

function form(s: FormState) {
  const expires = new Date(s.expiresAt).toUTCString();
  return html`<h1>Join ${s.accountName}</h1>
<p>You are activating the account for <strong>${s.email}</strong>. This link expires on ${expires}.</p>
${alert(s.errors?.form)}
<form method="post" action="/activate" novalidate>
<input type="hidden" name="token" value="${s.token}">
${field({ name: "first_name", label: "First name", value: s.firstName, autocomplete: "given-name", error: s.errors?.first_name })}
${field({ name: "last_name", label: "Last name", value: s.lastName, autocomplete: "family-name", error: s.errors?.last_name })}
${field({ name: "password", label: "Password", type: "password", autocomplete: "new-password", hint: `At least ${PASSWORD_MIN} characters. A passphrase of a few words works well.`, error: s.errors?.password })}
<button type="submit">Activate account</button>
</form>`;
}

function dead(err: AppError) {
  const expired = err.code === "invitation_expired";
  return html`<h1>${expired ? "This invitation has expired" : "This invitation link is not valid"}</h1>
<p role="alert">${err.detail ?? ""}</p><p>Ask the administrator of your account to send you a new invitation.</p>`;
}

export const activatePage = new Hono<AppEnv>()
  .get("/activate", async (c) => {
    const token = c.req.query("token") ?? "";
    try {
      const inv = await lookupInvitation(c.get("ctx"), token);
      return page(
        c,
        200,
        `Join ${inv.account_name}`,
        form({ token, email: inv.email, accountName: inv.account_name, expiresAt: inv.expires_at }),
      );
    } catch (err) {
      if (
        err instanceof AppError &&
        (err.code === "invitation_invalid" || err.code === "invitation_expired")
      ) {
        return page(c, err.status as 404 | 410, "Invitation", dead(err));
      }
      throw err;
    }
  })
  .post("/activate", async (c) => {
    const body = await readForm(c);
    if (!body) return unreadableForm(c);
    const value = (k: string) => body[k] ?? "";
    const token = value("token");
    const input = {
      token,
      first_name: value("first_name").trim(),
      last_name: value("last_name").trim(),
      password: value("password"),
    };
    const ctx = c.get("ctx");
    let state: FormState;
    try {
      const inv = await lookupInvitation(ctx, token);
      state = {
        token,
        email: inv.email,
        accountName: inv.account_name,
        expiresAt: inv.expires_at,
        firstName: input.first_name,
        lastName: input.last_name,
      };
    } catch (err) {
      if (
        err instanceof AppError &&
        (err.code === "invitation_invalid" || err.code === "invitation_expired")
      ) {
        return page(c, err.status as 404 | 410, "Invitation", dead(err));
      }
      throw err;
    }
    // The same limits as the API's accept route, whose schema this form does not pass through.
    const nameError = (v: string, what: string) =>
      !v
        ? `Enter your ${what}.`
        : PersonName.safeParse(v).success
          ? undefined
          : `Your ${what} can have at most ${PersonName.maxLength} characters.`;
    const firstError = nameError(input.first_name, "first name");
    const lastError = nameError(input.last_name, "last name");
    const missing = {
      ...(firstError ? { first_name: firstError } : {}),
      ...(lastError ? { last_name: lastError } : {}),
      ...(input.password ? {} : { password: "Choose a password." }),
    };
    if (Object.keys(missing).length > 0) {
      return page(
        c,
        422,
        `Join ${state.accountName}`,
        form({ ...state, errors: { form: "Please fix the fields below.", ...missing } }),
      );
    }
    try {
      const session = await acceptInvitation(ctx, input);
      const dashboard = consoleSignIn(ctx);
      return page(
        c,
        200,
        "Account activated",
        html`<h1>Welcome, ${session.user.first_name}</h1>
<p role="status">Your account for <strong>${session.user.email}</strong> is active. Sign in to the dashboard with your email and the password you just chose.</p>
<p>Activated on ${iso(ctx.now)}.</p><a class="button" href="${dashboard}">Go to the dashboard</a>`,
      );
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === "weak_password") {
        return page(
          c,
          422,
          `Join ${state.accountName}`,
          form({
            ...state,
            errors: { form: "Please choose a different password.", password: err.detail },
          }),
        );
      }
      if (err.code === "invitation_invalid" || err.code === "invitation_expired")
        return page(c, err.status as 404 | 410, "Invitation", dead(err));
      if (err.code === "email_taken") {
        return page(
          c,
          409,
          "Already registered",
          html`<h1>This email already has an account</h1><p role="alert">${err.detail ?? ""}</p>`,
        );
      }
      throw err;
    }
  });

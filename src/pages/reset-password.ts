/** `GET /reset-password?token=`: choose a new password from a mailed link. */

import { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../context";
import { consoleSignIn } from "../http/links";
import { AppError } from "../lib/errors";
import { PASSWORD_MIN } from "../lib/password";
import { describeReset, resetPassword } from "../lifecycle/password-reset";
import { alert, field, page, readForm, unreadableForm } from "./layout";

function form(token: string, email: string, error?: string) {
  return html`<h1>Choose a new password</h1>
<p>For <strong>${email}</strong>. Every device signed in to this account will be signed out.</p>
${alert(error ? "Please choose a different password." : undefined)}
<form method="post" action="/reset-password" novalidate>
<input type="hidden" name="token" value="${token}">
<input type="hidden" name="username" value="${email}" autocomplete="username">
${field({ name: "new_password", label: "New password", type: "password", autocomplete: "new-password", hint: `At least ${PASSWORD_MIN} characters. A passphrase of a few words works well.`, error })}
<button type="submit">Set new password</button>
</form>`;
}

function dead(c: Parameters<typeof page>[0], err: AppError) {
  const title = err.code === "token_expired" ? "This link has expired" : "This link is not valid";
  return page(
    c,
    err.status as 404 | 410,
    title,
    html`<h1>${title}</h1>${alert(err.detail)}<p>Ask for a new link from the sign-in page.</p>`,
  );
}

export const resetPasswordPage = new Hono<AppEnv>()
  .get("/reset-password", async (c) => {
    const token = c.req.query("token") ?? "";
    try {
      const r = await describeReset(c.get("ctx"), token);
      return page(c, 200, "Choose a new password", form(token, r.email));
    } catch (err) {
      if (err instanceof AppError && (err.code === "token_invalid" || err.code === "token_expired"))
        return dead(c, err);
      throw err;
    }
  })
  .post("/reset-password", async (c) => {
    const body = await readForm(c);
    if (!body) return unreadableForm(c);
    const token = body.token ?? "";
    const password = body.new_password ?? "";
    const ctx = c.get("ctx");
    let email: string;
    try {
      email = (await describeReset(ctx, token)).email;
      if (!password)
        return page(c, 422, "Choose a new password", form(token, email, "Choose a password."));
      await resetPassword(ctx, token, password);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === "weak_password")
        return page(c, 422, "Choose a new password", form(token, email!, err.detail));
      if (err.code === "token_invalid" || err.code === "token_expired") return dead(c, err);
      throw err;
    }
    return page(
      c,
      200,
      "Password changed",
      html`<h1>Password changed</h1>
<p role="status">Your password is set, and every other session has been signed out. Sign in with your new password.</p>
<a class="button" href="${consoleSignIn(c.get("ctx"))}">Go to sign in</a>`,
    );
  });

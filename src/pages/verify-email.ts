/**
 * `GET /verify-email?token=`: shows which address is being confirmed and a button; the
 * POST confirms. A GET never changes anything, so mail scanners that open links do not
 * confirm on the user's behalf.
 */

import { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../context";
import { consoleSignIn } from "../http/links";
import { AppError } from "../lib/errors";
import { confirmEmailChange, describeVerification } from "../lifecycle/email-change";
import { alert, page, readForm, unreadableForm } from "./layout";

const LINK_ERRORS = new Set(["token_invalid", "token_expired", "email_taken"]);

function problem(c: Parameters<typeof page>[0], err: AppError) {
  const title =
    err.code === "token_expired"
      ? "This link has expired"
      : err.code === "email_taken"
        ? "This address is already in use"
        : "This link is not valid";
  return page(
    c,
    err.status as 404 | 409 | 410,
    title,
    html`<h1>${title}</h1>${alert(err.detail)}<p>You can ask for a new link from your profile.</p>`,
  );
}

export const verifyEmailPage = new Hono<AppEnv>()
  .get("/verify-email", async (c) => {
    const token = c.req.query("token") ?? "";
    try {
      const v = await describeVerification(c.get("ctx"), token);
      return page(
        c,
        200,
        "Confirm your new email address",
        html`<h1>Confirm your new email address</h1>
<p>Confirm <strong>${v.email}</strong> as your new sign-in address (instead of ${v.current_email}).</p>
<form method="post" action="/verify-email"><input type="hidden" name="token" value="${token}"><button type="submit">Confirm ${v.email}</button></form>`,
      );
    } catch (err) {
      if (err instanceof AppError && LINK_ERRORS.has(err.code)) return problem(c, err);
      throw err;
    }
  })
  .post("/verify-email", async (c) => {
    const body = await readForm(c);
    if (!body) return unreadableForm(c);
    const token = body.token ?? "";
    try {
      const { user } = await confirmEmailChange(c.get("ctx"), token);
      return page(
        c,
        200,
        "Email address confirmed",
        html`<h1>Email address confirmed</h1>
<p role="status">From now on, sign in with <strong>${user.email}</strong>.</p><a class="button" href="${consoleSignIn(c.get("ctx"))}">Go to the dashboard</a>`,
      );
    } catch (err) {
      if (err instanceof AppError && LINK_ERRORS.has(err.code)) return problem(c, err);
      throw err;
    }
  });

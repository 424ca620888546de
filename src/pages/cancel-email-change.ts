/**
 * `GET /cancel-email-change?token=`: shows which change of address will be cancelled and
 * a button; the POST cancels. A GET never changes anything, so mail scanners that open
 * links do not act on the user's behalf.
 */
import { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../context";
import { AppError } from "../lib/errors";
import { cancelEmailChange, describeCancellation } from "../lifecycle/email-change-cancel";
import { alert, page, readForm, unreadableForm } from "./layout";

const LINK_ERRORS = new Set(["token_invalid", "token_expired"]);

function problem(c: Parameters<typeof page>[0], err: AppError) {
  const title = err.code === "token_expired" ? "This link has expired" : "This link is not valid";
  return page(
    c,
    err.status as 404 | 410,
    title,
    html`<h1>${title}</h1>${alert(err.detail)}<p>If you did not ask for a change of address, change your password.</p>`,
  );
}

export const cancelEmailChangePage = new Hono<AppEnv>()
  .get("/cancel-email-change", async (c) => {
    const token = c.req.query("token") ?? "";
    try {
      const v = await describeCancellation(c.get("ctx"), token);
      return page(
        c,
        200,
        "Cancel the change of your email address",
        html`<h1>Cancel the change of your email address</h1>
<p>Someone asked to change your sign-in address from ${v.email} to <strong>${v.pending_email}</strong>. Cancel it to keep signing in with ${v.email}.</p>
<form method="post" action="/cancel-email-change"><input type="hidden" name="token" value="${token}"><button type="submit">Cancel the change to ${v.pending_email}</button></form>`,
      );
    } catch (err) {
      if (err instanceof AppError && LINK_ERRORS.has(err.code)) return problem(c, err);
      throw err;
    }
  })
  .post("/cancel-email-change", async (c) => {
    const body = await readForm(c);
    if (!body) return unreadableForm(c);
    const token = body.token ?? "";
    try {
      const { user } = await cancelEmailChange(c.get("ctx"), token);
      return page(
        c,
        200,
        "Email change cancelled",
        html`<h1>Email change cancelled</h1>
<p role="status">Your sign-in address stays <strong>${user.email}</strong>. If you did not ask for the change, change your password now.</p>`,
      );
    } catch (err) {
      if (err instanceof AppError && LINK_ERRORS.has(err.code)) return problem(c, err);
      throw err;
    }
  });

/** What the invitation-mail tests share: a dead Postmark, the stored row, links in mail. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Bindings } from "../src/context";
import { call, newMail, rows, type TestAccount, uniqueEmail, until } from "./helpers";

/** Postmark configured, but nothing listens there: every send fails with no answer. */
export const unreachablePostmark = (bindings: Bindings = env as unknown as Bindings) =>
  ({
    ...bindings,
    POSTMARK_SERVER_TOKEN: "test-postmark-token",
    POSTMARK_API_URL: "http://127.0.0.1:9",
  }) as unknown as Bindings;

export const invitationRow = async (id: string) =>
  (await rows("SELECT * FROM invitations WHERE id = ?", id))[0]!;

export const lookup = (token: string) =>
  call("GET", `/v1/invitations/lookup?token=${encodeURIComponent(token)}`);

export const tokenIn = (text: string) =>
  decodeURIComponent(/[?&]token=([^\s"'<>&]+)/.exec(text)![1]!);

/** Invites and waits for the background consumer to send the mail. */
export async function invited(acct: TestAccount) {
  const email = uniqueEmail("invited");
  const res = await call("POST", "/v1/invitations", { token: acct.token, body: { email } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const mail = await newMail(email, []);
  await until(
    () => invitationRow(res.body.id),
    (r) => r.email_delivery === "sent",
    "the mail recorded as sent",
  );
  return { acct, id: res.body.id as string, email, mail };
}

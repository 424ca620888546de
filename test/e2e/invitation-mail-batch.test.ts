/**
 * Invitation mail in bulk, end to end: many invitations at once reach the EVENTS queue in
 * batches, which the consumer takes whole. Every address gets its one mail through the real
 * postmark client, every link works, and Postmark refusing one address fails only that one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, newAccount, type StartedWorker, startWorker, until } from "./harness";
import { type PostmarkCapture, startPostmarkCapture } from "./postmark-capture";

const SERVER_TOKEN = "e2e-postmark-server-token";

let capture: PostmarkCapture;
let worker: StartedWorker;

beforeAll(async () => {
  capture = await startPostmarkCapture({ token: SERVER_TOKEN });
  worker = await startWorker({
    vars: { POSTMARK_SERVER_TOKEN: SERVER_TOKEN, POSTMARK_API_URL: capture.url },
  });
});

afterAll(async () => {
  await worker?.dispose();
  await capture?.close();
});

const tokenIn = (body: string) => {
  const found = /\/activate\?token=([A-Za-z0-9_%-]+)/.exec(body);
  expect(found, `no activation link in:\n${body}`).not.toBeNull();
  return decodeURIComponent(found![1]!);
};

describe("invitation mail in bulk through Postmark", () => {
  it("mails 25 invitations made at once across two accounts once each; a refused address fails alone", async () => {
    const accounts = await Promise.all([
      newAccount(worker.url, { name: "Bulk One" }),
      newAccount(worker.url, { name: "Bulk Two" }),
    ]);
    const stamp = Date.now();
    const emails = Array.from({ length: 25 }, (_, i) => `bulk-${i}-${stamp}@e2e.example`);
    const refused = emails[7]!;
    capture.failFor(refused, {
      status: 422,
      errorCode: 406,
      message: "You tried to send to a recipient that has been marked as inactive.",
    });
    const accountOf = (i: number) => accounts[i % 2]!;

    const made = await Promise.all(
      emails.map((email, i) =>
        api(worker.url, "POST", "/v1/invitations", {
          token: accountOf(i).token,
          body: { email },
        }),
      ),
    );
    for (const res of made) expect(res.status, JSON.stringify(res.body)).toBe(201);

    const settled = await until(
      () =>
        Promise.all(
          accounts.map((acct) =>
            api(worker.url, "GET", "/v1/invitations?limit=100", { token: acct.token }),
          ),
        ),
      (lists) =>
        lists.flatMap((l) => l.body.data).filter((i: any) => i.email_delivery !== "queued")
          .length === 25,
    );
    const delivery = new Map(
      settled.flatMap((l) => l.body.data).map((i: any) => [i.email, i.email_delivery]),
    );
    for (const email of emails) {
      expect(delivery.get(email), email).toBe(email === refused ? "failed" : "sent");
    }
    capture.failFor(refused, null);

    expect(capture.messagesTo(refused)).toEqual([]);
    expect(capture.rejected).toEqual([
      expect.objectContaining({
        status: 422,
        errorCode: 406,
        body: expect.objectContaining({ To: refused }),
      }),
    ]);
    const failedAt = accountOf(emails.indexOf(refused));
    const events = await api(worker.url, "GET", "/v1/activity?type=invitation.delivery_failed", {
      token: failedAt.token,
    });
    expect(events.body.data).toEqual([
      expect.objectContaining({
        type: "invitation.delivery_failed",
        subject: expect.objectContaining({ id: made[emails.indexOf(refused)]!.body.id }),
      }),
    ]);

    const delivered = emails.filter((email) => email !== refused);
    const accepted = await Promise.all(
      delivered.map((email) => {
        const mails = capture.messagesTo(email);
        expect(mails, email).toHaveLength(1);
        return api(worker.url, "POST", "/v1/invitations/accept", {
          body: {
            token: tokenIn(mails[0]!.TextBody!),
            first_name: "Ada",
            last_name: "Lovelace",
            password: "a long and unusual analytical engine passphrase",
          },
        });
      }),
    );
    for (const [i, res] of accepted.entries()) {
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.user).toMatchObject({ email: delivered[i], status: "active" });
      const me = await api(worker.url, "GET", "/v1/me", { token: res.body.access_token });
      expect(me.status).toBe(200);
      expect(me.body.account.id).toBe(accountOf(emails.indexOf(delivered[i]!)).account.id);
    }
  });
});

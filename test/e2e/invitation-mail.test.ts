/**
 * Invitation mail end to end: a real local worker sends through the real postmark client to
 * a Postmark-compatible capture server, and the link in the mail works against the worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, EMAIL_FROM, newAccount, type StartedWorker, startWorker, until } from "./harness";
import { type PostmarkCapture, startPostmarkCapture } from "./postmark-capture";

const SERVER_TOKEN = "e2e-postmark-server-token";
const ACCOUNT_NAME = "Acme & Sons E2E";
const ACCOUNT_NAME_HTML = "Acme &amp; Sons E2E";
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

let capture: PostmarkCapture;
let worker: StartedWorker;
let admin: Awaited<ReturnType<typeof newAccount>>;

beforeAll(async () => {
  capture = await startPostmarkCapture({ token: SERVER_TOKEN });
  // APP_URL is left to the harness: the worker's own base URL.
  worker = await startWorker({
    vars: { POSTMARK_SERVER_TOKEN: SERVER_TOKEN, POSTMARK_API_URL: capture.url },
  });
  admin = await newAccount(worker.url, { name: ACCOUNT_NAME });
});

afterAll(async () => {
  await worker?.dispose();
  await capture?.close();
});

/** The invitation as its account sees it, once its mail has an outcome. */
const delivered = (id: string, outcome: "sent" | "failed") =>
  until(
    () => api(worker.url, "GET", `/v1/invitations/${id}`, { token: admin.token }),
    (r) => r.body.email_delivery === outcome,
  );

let seq = 0;
const invitee = () => `invitee-${++seq}-${Date.now()}@e2e.example`;

/** The activation link in a mail body: APP_URL/activate?token=… */
function activationLink(body: string) {
  const escaped = worker.url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const found = new RegExp(`${escaped}/activate\\?token=([A-Za-z0-9_%-]+)`).exec(body);
  expect(found, `no ${worker.url}/activate?token= link in:\n${body}`).not.toBeNull();
  return { url: found![0], token: decodeURIComponent(found![1]!) };
}

describe("invitation mail through Postmark", () => {
  it("sends one mail whose activation link works", async () => {
    const email = invitee();
    const before = capture.messages.length;
    const invited = await api(worker.url, "POST", "/v1/invitations", {
      token: admin.token,
      body: { email },
    });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    // The answer does not wait for the mail: the queue sends it.
    expect(invited.body).toMatchObject({ email, status: "pending", email_delivery: "queued" });

    const mail = await capture.waitForMessage((m) => m.To === email);
    await delivered(invited.body.id, "sent");
    expect(capture.messagesTo(email)).toHaveLength(1);
    expect(capture.messages.length - before).toBe(1);
    expect(capture.rejected).toEqual([]);

    // What the postmark client sent, and how.
    expect(mail.token).toBe(SERVER_TOKEN);
    expect(mail.headers.accept).toBe("application/json");
    expect(mail.headers["user-agent"]).toMatch(/^Postmark\.JS/);
    expect(mail.From).toBe(EMAIL_FROM);
    expect(mail.To).toBe(email);
    expect(mail.MessageStream).toBe("outbound");
    expect(mail.Tag).toBe("invitation");
    expect(mail.Subject).toContain(ACCOUNT_NAME);
    expect(mail.HtmlBody).toBeTruthy();
    expect(mail.TextBody).toBeTruthy();
    const html = mail.HtmlBody!;
    const text = mail.TextBody!;

    // The account name: raw in text, escaped in HTML.
    expect(text).toContain(ACCOUNT_NAME);
    expect(html).toContain(ACCOUNT_NAME_HTML);
    expect(html).not.toContain(ACCOUNT_NAME);
    // The inviter, by name.
    expect(text).toContain(`${admin.admin.first_name} ${admin.admin.last_name}`.trim());

    // The expiry, as in the invitation (7 days by default), in both parts.
    const expires = new Date(invited.body.expires_at);
    expect(expires.getTime() - Date.now()).toBeGreaterThan(167 * 3600_000);
    const day = `${expires.getUTCDate()} ${MONTHS[expires.getUTCMonth()]} ${expires.getUTCFullYear()}`;
    const time = `${String(expires.getUTCHours()).padStart(2, "0")}:${String(expires.getUTCMinutes()).padStart(2, "0")} UTC`;
    for (const part of [text, html]) {
      expect(part).toContain(day);
      expect(part).toContain(time);
    }

    // The same link in both parts, under APP_URL.
    const link = activationLink(text);
    expect(activationLink(html).url).toBe(link.url);
    expect(html).toContain(`href="${link.url}"`);

    // The link opens the activation page on the worker.
    const page = await fetch(link.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const pageHtml = await page.text();
    expect(pageHtml).toContain(ACCOUNT_NAME_HTML);
    expect(pageHtml).toContain(email);

    const lookup = await api(
      worker.url,
      "GET",
      `/v1/invitations/lookup?token=${encodeURIComponent(link.token)}`,
    );
    expect(lookup.status).toBe(200);
    expect(lookup.body).toEqual({
      email,
      account_name: ACCOUNT_NAME,
      expires_at: invited.body.expires_at,
    });

    const accepted = await api(worker.url, "POST", "/v1/invitations/accept", {
      body: {
        token: link.token,
        first_name: "Ada",
        last_name: "Lovelace",
        password: "a long and unusual analytical engine passphrase",
      },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    expect(accepted.body.user).toMatchObject({
      email,
      first_name: "Ada",
      last_name: "Lovelace",
      status: "active",
    });
    expect(accepted.body.access_token).toEqual(expect.any(String));

    // The new user is signed in, and the link worked once.
    const me = await api(worker.url, "GET", "/v1/me", { token: accepted.body.access_token });
    expect(me.status).toBe(200);
    expect(
      (
        await api(
          worker.url,
          "GET",
          `/v1/invitations/lookup?token=${encodeURIComponent(link.token)}`,
        )
      ).status,
    ).toBe(404);
    expect((await fetch(link.url)).status).toBe(404);
  });

  it("reports a revoked Postmark token as email_delivery failed, without retrying; the invitation can be resent", async () => {
    const email = invitee();
    capture.token = "rotated-on-the-postmark-side";
    let invited: Awaited<ReturnType<typeof api<any>>>;
    try {
      invited = await api(worker.url, "POST", "/v1/invitations", {
        token: admin.token,
        body: { email },
      });
      expect(invited.status, JSON.stringify(invited.body)).toBe(201);
      expect(invited.body).toMatchObject({ email, status: "pending", email_delivery: "queued" });
      await delivered(invited.body.id, "failed");
    } finally {
      capture.token = SERVER_TOKEN;
    }
    const events = await api(worker.url, "GET", "/v1/activity?type=invitation.delivery_failed", {
      token: admin.token,
    });
    expect(events.body.data).toContainEqual(
      expect.objectContaining({
        type: "invitation.delivery_failed",
        subject: expect.objectContaining({ id: invited.body.id }),
      }),
    );
    expect(capture.messagesTo(email)).toHaveLength(0);
    expect(capture.rejected).toHaveLength(1);
    expect(capture.rejected[0]).toMatchObject({ path: "/email/batch", status: 401, errorCode: 10 });
    capture.rejected.length = 0;

    // The invitation exists (and holds its seat) though the mail did not go.
    const listed = await api(worker.url, "GET", "/v1/invitations?status=pending", {
      token: admin.token,
    });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((i: { id: string }) => i.id)).toContain(invited.body.id);

    const resent = await api(worker.url, "POST", `/v1/invitations/${invited.body.id}/resend`, {
      token: admin.token,
    });
    expect(resent.status, JSON.stringify(resent.body)).toBe(200);
    expect(resent.body).toMatchObject({ id: invited.body.id, email, email_delivery: "queued" });
    const mail = await capture.waitForMessage((m) => m.To === email);
    await delivered(invited.body.id, "sent");
    expect(capture.messagesTo(email)).toHaveLength(1);
    const link = activationLink(mail.TextBody!);
    expect(
      (
        await api(
          worker.url,
          "GET",
          `/v1/invitations/lookup?token=${encodeURIComponent(link.token)}`,
        )
      ).status,
    ).toBe(200);
  });

  it("reports a Postmark refusal (422 inactive recipient) as email_delivery failed, without retrying", async () => {
    const email = invitee();
    capture.failNext({
      status: 422,
      errorCode: 406,
      message: "You tried to send to a recipient that has been marked as inactive.",
    });
    const invited = await api(worker.url, "POST", "/v1/invitations", {
      token: admin.token,
      body: { email },
    });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    expect(invited.body).toMatchObject({ email, status: "pending", email_delivery: "queued" });
    await delivered(invited.body.id, "failed");
    expect(capture.messagesTo(email)).toHaveLength(0);
    expect(capture.rejected).toEqual([expect.objectContaining({ status: 422, errorCode: 406 })]);
    capture.rejected.length = 0;

    // A second invitation for the same address is refused while this one is pending; resending is the way.
    const again = await api(worker.url, "POST", "/v1/invitations", {
      token: admin.token,
      body: { email },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("invitation_pending");
    const resent = await api(worker.url, "POST", `/v1/invitations/${invited.body.id}/resend`, {
      token: admin.token,
    });
    expect(resent.status).toBe(200);
    expect(resent.body.email_delivery).toBe("queued");
    await capture.waitForMessage((m) => m.To === email);
    await delivered(invited.body.id, "sent");
  });
});

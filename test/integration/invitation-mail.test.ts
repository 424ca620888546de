/**
 * Invitation mail from the EVENTS queue: the answer says `queued` without waiting for it,
 * the consumer sends it (the development outbox here) and records `sent`; retries, the
 * final failure with its `invitation.delivery_failed` event and webhook, stale messages,
 * and the cron queuing again mail whose message was lost. The consumer is driven by
 * calling the worker's queue handler where a test needs one exact attempt; miniflare also
 * runs it in the background for what the worker queues itself.
 */
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import { MAIL_ATTEMPTS } from "../../src/invitations/mail";
import { clock } from "../../src/lib/clock";
import {
  call,
  createAccount,
  createUser,
  expectProblem,
  newMail,
  outbox,
  rows,
  runCron,
  type TestAccount,
  uniqueEmail,
  until,
} from "../helpers";
import {
  invitationRow,
  invited,
  lookup,
  tokenIn,
  unreachablePostmark,
} from "../invitation-mail-helpers";

afterEach(() => {
  clock.offsetMs = 0;
});

const MINUTE = 60_000;
const getInvitation = (acct: TestAccount, id: string) =>
  call("GET", `/v1/invitations/${id}`, { token: acct.token });

/** One message through the worker's EVENTS handler, as the queue's `attempts`-th delivery. */
async function consume(
  body: unknown,
  attempts = 1,
  bindings: Bindings = env as unknown as Bindings,
) {
  const batch = createMessageBatch("user-events", [
    { id: crypto.randomUUID(), timestamp: new Date(), attempts, body },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  return getQueueResult(batch, ctx);
}

/** Makes the invitation owe a new mail that no queued message stands for. */
async function owe(id: string, touchedAt = clock.now()) {
  const mailId = `test-${crypto.randomUUID()}`;
  await rows(
    "UPDATE invitations SET email_delivery = 'queued', mail_id = ?, mail_touched_at = ? WHERE id = ?",
    mailId,
    touchedAt,
    id,
  );
  return mailId;
}

const message = (acct: TestAccount, id: string, mailId: string) => ({
  kind: "invitation",
  account_id: acct.accountId,
  invitation_id: id,
  mail_id: mailId,
});

describe("invitation mail from the queue", () => {
  it("answers queued without waiting for the mail, which then arrives, works and shows as sent", async () => {
    const acct = await createAccount();
    const email = uniqueEmail("queued");
    const res = await call("POST", "/v1/invitations", { token: acct.token, body: { email } });
    expect(res.status).toBe(201);
    expect(res.body.email_delivery).toBe("queued");
    // Authentication and the one batch: no KV, mail or other D1 work on the path.
    expect(res.headers.get("x-d1-round-trips")).toBe("2");

    const mail = await newMail(email, []);
    expect(mail.tag).toBe("invitation");
    const shown = await until(
      () => getInvitation(acct, res.body.id),
      (r) => r.body.email_delivery === "sent",
      "email_delivery sent",
    );
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id: res.body.id, email, status: "pending" });
    const listed = await call("GET", "/v1/invitations", { token: acct.token });
    expect(listed.body.data).toEqual([
      expect.objectContaining({ id: res.body.id, email_delivery: "sent" }),
    ]);
    expect((await lookup(tokenIn(mail.text))).status).toBe(200);
  });

  it("retries a send that may pass, then records failed, an invitation.delivery_failed event and its webhook", async () => {
    const acct = await createAccount();
    const hook = await call("POST", "/v1/webhooks", {
      token: acct.token,
      body: { url: "http://127.0.0.1:9/hook", events: ["invitation.delivery_failed"] },
    });
    expect(hook.status).toBe(201);
    const inv = await invited(acct);
    const mailId = await owe(inv.id);

    const first = await consume(message(acct, inv.id, mailId), 1, unreachablePostmark());
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    expect((await invitationRow(inv.id)).email_delivery).toBe("queued");

    const last = await consume(message(acct, inv.id, mailId), MAIL_ATTEMPTS, unreachablePostmark());
    expect(last.explicitAcks).toHaveLength(1);
    expect(last.retryMessages).toEqual([]);
    expect((await invitationRow(inv.id)).email_delivery).toBe("failed");
    expect((await getInvitation(acct, inv.id)).body.email_delivery).toBe("failed");
    const events = await rows(
      "SELECT * FROM activity_events WHERE subject_id = ? AND type = 'invitation.delivery_failed'",
      inv.id,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ account_id: acct.accountId, actor_type: "system" });
    expect(JSON.parse(events[0]!.metadata)).toMatchObject({
      email: inv.email,
      attempts: MAIL_ATTEMPTS,
      reason: "retries_exhausted",
    });
    // It streams to the account's webhooks like every event.
    await until(
      () =>
        rows(
          "SELECT * FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
          hook.body.id,
          events[0]!.id,
        ),
      (d) => d.length === 1,
      "the delivery_failed webhook delivery",
    );

    // A duplicate of the message finds the outcome recorded: nothing more happens.
    const again = await consume(
      message(acct, inv.id, mailId),
      MAIL_ATTEMPTS,
      unreachablePostmark(),
    );
    expect(again.explicitAcks).toHaveLength(1);
    expect(
      await rows(
        "SELECT id FROM activity_events WHERE subject_id = ? AND type = 'invitation.delivery_failed'",
        inv.id,
      ),
    ).toHaveLength(1);

    // Resending queues a new mail, which goes.
    const before = await outbox(inv.email);
    const resent = await call("POST", `/v1/invitations/${inv.id}/resend`, { token: acct.token });
    expect(resent.status).toBe(200);
    expect(resent.body.email_delivery).toBe("queued");
    const mail = await newMail(inv.email, before);
    expect((await lookup(tokenIn(mail.text))).status).toBe(200);
    await until(
      () => getInvitation(acct, inv.id),
      (r) => r.body.email_delivery === "sent",
      "the resent mail recorded as sent",
    );
  });

  it("drops a message for a mail no longer owed, and leaves the link alone", async () => {
    const acct = await createAccount();
    const inv = await invited(acct);
    const row = await invitationRow(inv.id);
    const result = await consume(message(acct, inv.id, "an-older-mail"));
    expect(result.explicitAcks).toHaveLength(1);
    expect(await invitationRow(inv.id)).toEqual(row);
    expect(await outbox(inv.email)).toHaveLength(1);
    expect((await lookup(tokenIn(inv.mail.text))).status).toBe(200);

    // Nor for another account's invitation, whatever the message claims.
    const other = await createAccount();
    const mailId = await owe(inv.id);
    expect((await consume(message(other, inv.id, mailId))).explicitAcks).toHaveLength(1);
    expect((await invitationRow(inv.id)).email_delivery).toBe("queued");
    expect(await outbox(inv.email)).toHaveLength(1);
  });

  it("the cron queues again mail whose message was lost, and the mail then goes", async () => {
    const acct = await createAccount();
    const lost = await invited(acct);
    const recent = await invited(acct);
    await owe(lost.id, clock.now() - 15 * MINUTE);
    await owe(recent.id, clock.now() - MINUTE);

    const sent: any[] = [];
    const EVENTS = {
      send: (body: unknown) => {
        sent.push(body);
        return env.EVENTS.send(body);
      },
      sendBatch: (messages: MessageSendRequest[]) => {
        sent.push(...messages.map((m) => m.body));
        return env.EVENTS.sendBatch(messages);
      },
    };
    await runCron({ ...env, EVENTS } as unknown as Bindings);
    const mailed = sent.filter((m) => m.kind === "invitation").map((m) => m.invitation_id);
    expect(mailed).toContain(lost.id);
    expect(mailed).not.toContain(recent.id);

    const mail = await newMail(lost.email, [lost.mail]);
    expect(tokenIn(mail.text)).not.toBe(tokenIn(lost.mail.text));
    expect((await lookup(tokenIn(mail.text))).status).toBe(200);
    expect((await lookup(tokenIn(lost.mail.text))).status).toBe(404);
    await until(
      () => invitationRow(lost.id),
      (r) => r.email_delivery === "sent",
      "the re-queued mail recorded as sent",
    );
  });
});

/** The real EVENTS queue, with a record of each send the worker makes to it. */
function recordingQueue() {
  const sends: any[][] = [];
  const EVENTS = {
    send: (body: unknown, opts?: QueueSendOptions) => {
      sends.push([body]);
      return env.EVENTS.send(body, opts);
    },
    sendBatch: (messages: MessageSendRequest[], opts?: QueueSendBatchOptions) => {
      sends.push(messages.map((m) => m.body));
      return env.EVENTS.sendBatch(messages, opts);
    },
  };
  return { sends, bindings: { ...env, EVENTS } as unknown as Bindings };
}

/** One request through the worker, waiting for everything it left running after answering. */
async function fetchRecorded(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: any; sends: any[][] }> {
  const { sends, bindings } = recordingQueue();
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://api.test${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, sends };
}

const eventIdOf = async (type: string, subjectId: string) =>
  (
    await rows("SELECT id FROM activity_events WHERE type = ? AND subject_id = ?", type, subjectId)
  )[0]?.id;

describe("a request's queue messages", () => {
  it("leave in one send after the answer: an invitation's event and its mail together", async () => {
    const acct = await createAccount();
    const email = uniqueEmail("one-send");
    const res = await fetchRecorded("POST", "/v1/invitations", acct.token, { email });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const created = await eventIdOf("invitation.created", res.body.id);
    expect(created).toBeTruthy();
    expect(res.sends).toEqual([
      [
        { kind: "event", id: created, account_id: acct.accountId },
        {
          kind: "invitation",
          account_id: acct.accountId,
          invitation_id: res.body.id,
          mail_id: (await invitationRow(res.body.id)).mail_id,
        },
      ],
    ]);
    // The one send carries a working mail.
    const mail = await newMail(email, []);
    expect((await lookup(tokenIn(mail.text))).status).toBe(200);
  });

  it("take in what the request records alongside: an API token's use joins the same send", async () => {
    const acct = await createAccount();
    const made = await call("POST", "/v1/api-tokens", {
      token: acct.token,
      body: { name: "hr-sync", permissions: ["users:invite"] },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const res = await fetchRecorded("POST", "/v1/invitations", made.body.token, {
      email: uniqueEmail("by-token"),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.sends).toHaveLength(1);
    const used = await eventIdOf("auth.api_token_used", made.body.id);
    expect(used).toBeTruthy();
    expect(res.sends[0]).toEqual(
      expect.arrayContaining([
        { kind: "event", id: used, account_id: acct.accountId },
        {
          kind: "event",
          id: await eventIdOf("invitation.created", res.body.id),
          account_id: acct.accountId,
        },
        expect.objectContaining({ kind: "invitation", invitation_id: res.body.id }),
      ]),
    );
    expect(res.sends[0]).toHaveLength(3);
  });

  it("are none when the request changes nothing: a refused invitation, a read", async () => {
    const acct = await createAccount();
    const refused = await fetchRecorded("POST", "/v1/invitations", acct.token, {
      email: "not an email",
    });
    expect(refused.status).toBe(422);
    expect(refused.sends).toEqual([]);
    const read = await fetchRecorded("GET", "/v1/invitations", acct.token);
    expect(read.status).toBe(200);
    expect(read.sends).toEqual([]);
  });
});

describe("GET /v1/invitations/:id", () => {
  it("answers the account's own invitation; 404 for another account's or an unknown id; 403 without users:invite", async () => {
    const acct = await createAccount();
    const other = await createAccount();
    const inv = await invited(acct);
    const own = await getInvitation(acct, inv.id);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      id: inv.id,
      email: inv.email,
      status: "pending",
      email_delivery: "sent",
    });
    expectProblem(await getInvitation(other, inv.id), 404, "not_found");
    expectProblem(await getInvitation(acct, "inv_unknown"), 404, "not_found");
    expectProblem(await getInvitation(acct, "%00%27%20OR%201%3D1"), 404, "not_found");
    const member = await createUser(acct);
    expectProblem(
      await call("GET", `/v1/invitations/${inv.id}`, { token: member.token }),
      403,
      "forbidden",
    );
  });
});

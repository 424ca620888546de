/**
 * The EVENTS consumer takes a batch's invitation mail whole: every claim in one D1 batch, the sends side
 * by side, every outcome in a second one. Each message still ends as it would alone: sent,
 * failed with its event, retried, or dropped as stale; a duplicate within the batch mails
 * once; a failure of the database retries the whole batch and changes nothing.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../../src/context";
import worker from "../../src/index";
import { MAIL_ATTEMPTS } from "../../src/invitations/mail";
import {
  call,
  createAccount,
  newMail,
  outbox,
  PASSWORD,
  rows,
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

const base = env as unknown as Bindings;
/** The bindings with a D1 that counts its round trips (or fails every batch). */
function countingDb(failing = false) {
  const seen = { batches: 0, batched: 0, prepared: 0 };
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          seen.batches++;
          seen.batched += statements.length;
          if (failing) return Promise.reject(new Error("D1 is unavailable"));
          return target.batch(statements);
        };
      }
      if (prop === "prepare") {
        return (query: string) => {
          seen.prepared++;
          return target.prepare(query);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { bindings: { ...base, DB: db } as unknown as Bindings, seen };
}

const failedEvents = (id: string) =>
  rows(
    "SELECT * FROM activity_events WHERE subject_id = ? AND type = 'invitation.delivery_failed'",
    id,
  );

type Invited = Awaited<ReturnType<typeof invited>>;

/** Makes the invitation owe a new mail that no queued message stands for. */
async function owe(inv: Invited) {
  const mailId = `test-${crypto.randomUUID()}`;
  await rows(
    "UPDATE invitations SET email_delivery = 'queued', mail_id = ?, mail_touched_at = ? WHERE id = ?",
    mailId,
    Date.now(),
    inv.id,
  );
  return mailId;
}

const message = (accountId: string, id: string, mailId: string) => ({
  kind: "invitation",
  account_id: accountId,
  invitation_id: id,
  mail_id: mailId,
});

/** One batch through the worker's EVENTS handler; `attempts` per message. */
async function consume(bodies: { body: unknown; attempts?: number }[], bindings: Bindings) {
  const batch = createMessageBatch(
    "user-events",
    bodies.map(({ body, attempts = 1 }) => ({
      id: crypto.randomUUID(),
      timestamp: new Date(),
      attempts,
      body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  const ids = batch.messages.map((m) => m.id);
  return {
    ids,
    acked: result.explicitAcks,
    retried: result.retryMessages,
  };
}

describe("invitation mail, a queue batch at once", () => {
  it("mails 25 invitations made at once across two accounts, once each, and every link activates", async () => {
    const [a, b] = await Promise.all([createAccount(), createAccount()]);
    const emails = Array.from({ length: 25 }, (_, i) => uniqueEmail(`burst${i}`));
    const made = await Promise.all(
      emails.map((email, i) =>
        call("POST", "/v1/invitations", { token: (i % 2 ? b : a).token, body: { email } }),
      ),
    );
    for (const res of made) expect(res.status, JSON.stringify(res.body)).toBe(201);

    for (const [i, res] of made.entries()) {
      await until(
        () => invitationRow(res.body.id),
        (r) => r.email_delivery === "sent",
        `invitation ${i} recorded as sent`,
      );
    }
    const listed = await Promise.all(
      [a, b].map((acct) => call("GET", "/v1/invitations?limit=100", { token: acct.token })),
    );
    expect(listed.flatMap((l) => l.body.data).map((i: any) => i.email_delivery)).toEqual(
      Array(25).fill("sent"),
    );

    const mails = await Promise.all(emails.map((email) => outbox(email)));
    for (const mailed of mails) expect(mailed).toHaveLength(1);
    const accepted = await Promise.all(
      mails.map(([mail]) =>
        call("POST", "/v1/invitations/accept", {
          body: {
            token: tokenIn(mail!.text),
            first_name: "Grace",
            last_name: "Hopper",
            password: PASSWORD,
          },
        }),
      ),
    );
    for (const [i, res] of accepted.entries()) {
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const user = await rows(
        "SELECT account_id FROM users WHERE email = ?",
        emails[i]!.toLowerCase(),
      );
      expect(user).toEqual([{ account_id: (i % 2 ? b : a).accountId }]);
    }
  });

  it("takes a whole batch in two D1 round trips: duplicates mail once, stale and foreign messages change nothing", async () => {
    const [a, b] = await Promise.all([createAccount(), createAccount()]);
    const invs = await Promise.all([a, a, a, b, b, b].map((acct) => invited(acct)));
    const stale = invs[5]!;
    const staleRow = await invitationRow(stale.id);
    const owed = invs.slice(0, 5);
    const mailIds = await Promise.all(owed.map(owe));
    const foreign = await invited(a);
    const foreignMailId = await owe(foreign);
    const before = await Promise.all(invs.map((inv) => outbox(inv.email)));

    const { bindings, seen } = countingDb();
    const result = await consume(
      [
        ...owed.map((inv, i) => ({ body: message(inv.acct.accountId, inv.id, mailIds[i]!) })),
        // The same message twice, as the queue may deliver it.
        { body: message(owed[0]!.acct.accountId, owed[0]!.id, mailIds[0]!), attempts: 2 },
        { body: message(stale.acct.accountId, stale.id, "an-older-mail") },
        // Another account's id with a real invitation and its owed mail: not this account's.
        { body: message(b.accountId, foreign.id, foreignMailId) },
        { body: { kind: "invitation", account_id: a.accountId } },
      ],
      bindings,
    );
    expect(result.retried).toEqual([]);
    expect([...result.acked].sort()).toEqual([...result.ids].sort());
    // One commit claims, one records: nothing prepared outside them.
    expect(seen.batches).toBe(2);
    expect(seen.prepared).toBe(seen.batched);

    for (const [i, inv] of owed.entries()) {
      expect((await invitationRow(inv.id)).email_delivery).toBe("sent");
      const mail = await newMail(inv.email, before[i]!);
      expect((await lookup(tokenIn(mail.text))).status).toBe(200);
      expect((await lookup(tokenIn(inv.mail.text))).status).toBe(404);
    }
    expect(await invitationRow(stale.id)).toEqual(staleRow);
    expect(await outbox(stale.email)).toHaveLength(1);
    expect((await invitationRow(foreign.id)).email_delivery).toBe("queued");
    expect(await outbox(foreign.email)).toHaveLength(1);
  });

  it("retries, fails and records each message of a batch as it would alone", async () => {
    const [a, b] = await Promise.all([createAccount(), createAccount()]);
    const invs = await Promise.all([a, b, a, b].map((acct) => invited(acct)));
    const mailIds = await Promise.all(invs.map(owe));
    const attempts = [1, MAIL_ATTEMPTS, MAIL_ATTEMPTS, 3];

    const { bindings, seen } = countingDb();
    const result = await consume(
      invs.map((inv, i) => ({
        body: message(inv.acct.accountId, inv.id, mailIds[i]!),
        attempts: attempts[i],
      })),
      unreachablePostmark(bindings),
    );
    expect(seen.batches).toBe(2);
    expect([...result.acked].sort()).toEqual([result.ids[1], result.ids[2]].sort());
    expect(result.retried.map((r: { msgId: string }) => r.msgId).sort()).toEqual(
      [result.ids[0], result.ids[3]].sort(),
    );

    for (const [i, inv] of invs.entries()) {
      const last = attempts[i] === MAIL_ATTEMPTS;
      expect((await invitationRow(inv.id)).email_delivery).toBe(last ? "failed" : "queued");
      const events = await failedEvents(inv.id);
      expect(events).toHaveLength(last ? 1 : 0);
      if (last) {
        expect(events[0]).toMatchObject({ account_id: inv.acct.accountId, actor_type: "system" });
        expect(JSON.parse(events[0]!.metadata)).toMatchObject({
          email: inv.email,
          attempts: MAIL_ATTEMPTS,
          reason: "retries_exhausted",
        });
      }
    }
  });

  it("retries every message of the batch when the database fails, and changes nothing", async () => {
    const acct = await createAccount();
    const invs = await Promise.all([acct, acct, acct].map((x) => invited(x)));
    const mailIds = await Promise.all(invs.map(owe));
    const before = await Promise.all(invs.map((inv) => invitationRow(inv.id)));

    const { bindings } = countingDb(true);
    const result = await consume(
      invs.map((inv, i) => ({ body: message(acct.accountId, inv.id, mailIds[i]!), attempts: 2 })),
      bindings,
    );
    expect(result.acked).toEqual([]);
    expect(result.retried.map((r: { msgId: string }) => r.msgId)).toEqual(result.ids);
    for (const [i, inv] of invs.entries()) {
      expect(await invitationRow(inv.id)).toEqual(before[i]);
      expect(await outbox(inv.email)).toHaveLength(1);
    }
  });
});

/**
 * The EVENTS queue's consumer: activity events to fan out, webhook attempts to make and
 * invitation mail to send. Messages are parsed on receipt; a malformed one is dropped
 * (logged), an unexpected failure is retried by the queue and, after its retries, lands
 * in the dead-letter queue, whose own consumer records it so nothing vanishes silently.
 */
import { configOf } from "../config";
import type { Bindings, Ctx } from "../context";
import { database } from "../db/client";
import {
  deliverInvitationMails,
  type MailMessage,
  mailRetryDelaySeconds,
} from "../invitations/mail";
import { clock } from "../lib/clock";
import { attemptDelivery, type EventRef, fanOut, StreamMessage } from "../webhooks/delivery";
import { sendToStream } from "./outbox";

export function jobContext(
  env: Bindings,
  waitUntil: (p: Promise<unknown>) => void,
  label: string,
): Ctx {
  const requestId = `${label}-${crypto.randomUUID()}`;
  return {
    db: database(env.DB),
    env,
    config: configOf(env),
    now: clock.now(),
    meta: { requestId, ip: null, userAgent: null },
    roundTrips: { count: 0 },
    waitUntil,
    // No answer to wait for: each call sends at once.
    send: (messages) => waitUntil(sendToStream(env, requestId, messages)),
  };
}

/** Runs a message's work: acknowledged when it succeeds, retried by the queue when it throws. */
async function settle(message: Message<unknown>, work: () => Promise<unknown>) {
  try {
    await work();
    message.ack();
  } catch (err) {
    console.error(
      JSON.stringify({
        msg: "stream message failed; the queue will retry",
        id: message.id,
        err: String(err),
      }),
    );
    message.retry({ delaySeconds: Math.min(300, 10 * 2 ** message.attempts) });
  }
}

/**
 * The batch's events are fanned out together, in a constant number of round trips. If that
 * fails, each is tried alone, so only an event that fails by itself is retried and one
 * poisoned event cannot carry the rest of its batch to the dead-letter queue.
 */
async function fanOutEvents(
  events: { message: Message<unknown>; ref: EventRef }[],
  env: Bindings,
  waitUntil: (p: Promise<unknown>) => void,
) {
  if (events.length === 0) return;
  try {
    await fanOut(
      jobContext(env, waitUntil, "queue"),
      events.map((e) => e.ref),
    );
    for (const e of events) e.message.ack();
  } catch (err) {
    console.error(
      JSON.stringify({
        msg: "batched fan-out failed; each event is tried alone",
        events: events.length,
        err: String(err),
      }),
    );
    for (const e of events) {
      await settle(e.message, () => fanOut(jobContext(env, waitUntil, "queue"), [e.ref]));
    }
  }
}

/**
 * The batch's invitation mail: one try per message, all at once. A failure that may pass is
 * retried by the queue with growing delays; the last try, or a refusal, is recorded as
 * failed. If the batch's work fails as a whole, every mail is tried again.
 */
async function deliverMails(
  mails: { message: Message<unknown>; body: MailMessage }[],
  env: Bindings,
  waitUntil: (p: Promise<unknown>) => void,
) {
  if (mails.length === 0) return;
  const ctx = jobContext(env, waitUntil, "mail");
  try {
    const outcomes = await deliverInvitationMails(
      ctx,
      mails.map((m) => ({ message: m.body, attempts: m.message.attempts })),
    );
    mails.forEach(({ message }, i) => {
      if (outcomes[i] === "retry") {
        message.retry({ delaySeconds: mailRetryDelaySeconds(message.attempts) });
      } else message.ack();
    });
  } catch (err) {
    for (const { message } of mails) {
      console.error(
        JSON.stringify({
          msg: "mail message failed; the queue will retry",
          id: message.id,
          err: String(err),
        }),
      );
      message.retry({ delaySeconds: mailRetryDelaySeconds(message.attempts) });
    }
  }
}

export async function consumeEvents(
  batch: MessageBatch<unknown>,
  env: Bindings,
  waitUntil: (p: Promise<unknown>) => void,
) {
  const events: { message: Message<unknown>; ref: EventRef }[] = [];
  const mails: { message: Message<unknown>; body: MailMessage }[] = [];
  const deliveries: { message: Message<unknown>; deliveryId: string; attempt: number }[] = [];
  for (const message of batch.messages) {
    const parsed = StreamMessage.safeParse(message.body);
    if (!parsed.success) {
      console.error(
        JSON.stringify({
          msg: "malformed stream message dropped",
          id: message.id,
          body: message.body,
        }),
      );
      message.ack();
    } else if (parsed.data.kind === "event") {
      events.push({
        message,
        ref: { accountId: parsed.data.account_id, eventId: parsed.data.id },
      });
    } else if (parsed.data.kind === "invitation") {
      mails.push({ message, body: parsed.data });
    } else {
      deliveries.push({
        message,
        deliveryId: parsed.data.delivery_id,
        attempt: parsed.data.attempt,
      });
    }
  }
  // Someone is waiting for the mail: it does not wait for the fan-out.
  await Promise.all([fanOutEvents(events, env, waitUntil), deliverMails(mails, env, waitUntil)]);
  // Each attempt is its own network call; they stay one at a time.
  for (const d of deliveries) {
    await settle(d.message, () =>
      attemptDelivery(jobContext(env, waitUntil, "queue"), d.deliveryId, d.attempt),
    );
  }
}

/** Poison messages: recorded for an operator, then acknowledged. */
export async function consumeDeadLetters(batch: MessageBatch<unknown>) {
  for (const message of batch.messages) {
    console.error(
      JSON.stringify({
        msg: "dead letter",
        queue: batch.queue,
        id: message.id,
        attempts: message.attempts,
        body: message.body,
      }),
    );
    message.ack();
  }
}

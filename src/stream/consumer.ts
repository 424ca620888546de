/**
 * The EVENTS queue's consumer. Messages are parsed on receipt; a malformed one is dropped
 * (logged), an unexpected failure is retried by the queue and, after its retries, lands
 * in the dead-letter queue, whose own consumer records it so nothing vanishes silently.
 */
import { configOf } from "../config";
import type { Bindings, Ctx } from "../context";
import { database } from "../db/client";
import { deliverInvitationMails, MailMessage, mailRetryDelaySeconds } from "../invitations/mail";
import { clock } from "../lib/clock";
import { attemptDelivery, type EventRef, fanOut, StreamMessage } from "../webhooks/delivery";

export function jobContext(
  env: Bindings,
  waitUntil: (p: Promise<unknown>) => void,
  label: string,
): Ctx {
  return {
    db: database(env.DB),
    env,
    config: configOf(env),
    now: clock.now(),
    meta: { requestId: `${label}-${crypto.randomUUID()}`, ip: null, userAgent: null },
    roundTrips: { count: 0 },
    waitUntil,
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

export async function consumeEvents(
  batch: MessageBatch<unknown>,
  env: Bindings,
  waitUntil: (p: Promise<unknown>) => void,
) {
  const events: { message: Message<unknown>; ref: EventRef }[] = [];
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
    } else {
      deliveries.push({
        message,
        deliveryId: parsed.data.delivery_id,
        attempt: parsed.data.attempt,
      });
    }
  }
  await fanOutEvents(events, env, waitUntil);
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

/**
 * The MAIL queue's consumer: one try per message, the whole batch at once. A failure that
 * may pass is retried by the queue with growing delays; the last try, or a refusal, is
 * recorded as failed.
 */
export async function consumeMail(
  batch: MessageBatch<unknown>,
  env: Bindings,
  waitUntil: (p: Promise<unknown>) => void,
) {
  const tries: { message: Message<unknown>; body: MailMessage }[] = [];
  for (const message of batch.messages) {
    const parsed = MailMessage.safeParse(message.body);
    if (!parsed.success) {
      console.error(
        JSON.stringify({
          msg: "malformed mail message dropped",
          id: message.id,
          body: message.body,
        }),
      );
      message.ack();
    } else tries.push({ message, body: parsed.data });
  }
  if (tries.length === 0) return;
  const ctx = jobContext(env, waitUntil, "mail");
  try {
    const outcomes = await deliverInvitationMails(
      ctx,
      tries.map((t) => ({ message: t.body, attempts: t.message.attempts })),
    );
    tries.forEach(({ message }, i) => {
      if (outcomes[i] === "retry") {
        message.retry({ delaySeconds: mailRetryDelaySeconds(message.attempts) });
      } else message.ack();
    });
  } catch (err) {
    for (const { message } of tries) {
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

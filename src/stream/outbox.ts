/**
 * How messages reach the EVENTS queue from a domain function: `ctx.send`. Each send to a
 * queue is a subrequest with a real cost, so a request holds its messages (events,
 * invitation mail) until it has answered and sends them in one batch. The sends are best
 * effort: what a lost one carried is still owed in the database, and the cron sends it
 * again.
 */
import type { Bindings } from "../context";
import type { StreamMessage } from "../webhooks/delivery";

/** A queue takes at most this many messages in one send. */
const SEND_BATCH_MAX = 100;

/** Sends a batch per hundred messages; a failure is logged, never thrown. */
export async function sendToStream(
  env: Bindings,
  requestId: string,
  messages: StreamMessage[],
): Promise<void> {
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) {
    const chunk = messages.slice(i, i + SEND_BATCH_MAX);
    sends.push(
      env.EVENTS.sendBatch(chunk.map((body) => ({ body }))).catch((err: unknown) =>
        console.warn(
          JSON.stringify({
            msg: "event publish failed",
            request_id: requestId,
            messages: chunk.length,
            err: String(err),
          }),
        ),
      ),
    );
  }
  await Promise.all(sends);
}

/**
 * A request's outbox: `send` holds messages, `flush` (once the answer is built) sends them
 * together. Work the request left running (`waitUntil`) may still commit, and so publish —
 * an API token's use is recorded that way — so the flush waits for it and its messages
 * join the batch; anything sent after the flush goes at once.
 */
export function outbox(env: Bindings, waitUntil: (p: Promise<unknown>) => void, requestId: string) {
  const held: StreamMessage[] = [];
  const background: Promise<unknown>[] = [];
  let flushed = false;
  return {
    send(messages: StreamMessage[]) {
      if (flushed) waitUntil(sendToStream(env, requestId, messages));
      else held.push(...messages);
    },
    waitUntil(p: Promise<unknown>) {
      background.push(p);
      waitUntil(p);
    },
    flush() {
      if (background.length === 0 && held.length === 0) {
        flushed = true;
        return;
      }
      const sending = async () => {
        for (let settled = 0; settled < background.length; ) {
          const upTo = background.length;
          await Promise.allSettled(background.slice(settled, upTo));
          settled = upTo;
        }
        flushed = true;
        if (held.length > 0) await sendToStream(env, requestId, held.splice(0));
      };
      waitUntil(sending());
    },
  };
}

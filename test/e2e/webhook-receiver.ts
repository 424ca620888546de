/**
 * A webhook receiver for end-to-end tests: a node:http server on 127.0.0.1 that records
 * every request (headers and raw body) and verifies it with the `standardwebhooks` npm
 * library, an implementation independent of the service's own signing code.
 *
 * It answers 204 by default; `respondWith(500, 500, 204)` queues the statuses of the next
 * requests, and `defaultStatus` (e.g. 410) answers everything after the queue runs out.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface ReceivedWebhook {
  receivedAt: Date;
  method: string;
  path: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  rawBody: string;
  /** The parsed JSON body, or null when it is not JSON. */
  body: any;
  /** Whether `new Webhook(secret).verify(rawBody, headers)` accepted it with the receiver's `secret` at the time. */
  verified: boolean;
  /** Why verification failed, when it did. */
  verifyError: string | null;
  /** The status the receiver answered. */
  status: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>`; any path is accepted, use `endpoint(name)` to tell endpoints apart. */
  url: string;
  endpoint(name: string): string;
  /** The `whsec_…` secret deliveries are verified with; set it once the endpoint is created. */
  secret: string | null;
  /** Answers once the queued statuses run out. */
  defaultStatus: number;
  received: ReceivedWebhook[];
  /** Queue the statuses of the next requests, in order. */
  respondWith(...statuses: number[]): void;
  /** Verifies a received request again, with any secret, through `standardwebhooks`. */
  verifyWith(secret: string, delivery: ReceivedWebhook): { ok: boolean; error: string | null };
  /** The first delivery (received already, or within `timeoutMs`) that matches. */
  waitFor(match: (d: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function verify(secret: string, rawBody: string, headers: Record<string, string>) {
  try {
    new Webhook(secret).verify(rawBody, headers);
    return { ok: true, error: null };
  } catch (err) {
    return { ok: false, error: String((err as Error)?.message ?? err) };
  }
}

export async function startWebhookReceiver(
  options: { secret?: string; defaultStatus?: number } = {},
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const queued: number[] = [];
  const waiters = new Set<{
    match: (d: ReceivedWebhook) => boolean;
    resolve: (d: ReceivedWebhook) => void;
  }>();

  const receiver = {
    url: "",
    secret: options.secret ?? null,
    defaultStatus: options.defaultStatus ?? 204,
    received,
  } as WebhookReceiver;

  const server = createServer((req, res) => {
    readBody(req).then(
      (rawBody) => {
        const headers = flatHeaders(req);
        const check = receiver.secret
          ? verify(receiver.secret, rawBody, headers)
          : { ok: false, error: "no secret set on the receiver" };
        let body: unknown = null;
        try {
          body = JSON.parse(rawBody);
        } catch {
          // Recorded raw; a test asserting on `body` will see null.
        }
        const status = queued.shift() ?? receiver.defaultStatus;
        const delivery: ReceivedWebhook = {
          receivedAt: new Date(),
          method: req.method ?? "",
          path: req.url ?? "",
          headers,
          rawBody,
          body,
          verified: check.ok,
          verifyError: check.error,
          status,
        };
        received.push(delivery);
        res.writeHead(status, status === 204 ? {} : { "content-type": "text/plain" });
        res.end(status === 204 ? undefined : `receiver answered ${status}`);
        for (const w of waiters) {
          if (w.match(delivery)) {
            waiters.delete(w);
            w.resolve(delivery);
          }
        }
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.endpoint = (name) => `${receiver.url}/hooks/${encodeURIComponent(name)}`;
  receiver.respondWith = (...statuses) => void queued.push(...statuses);
  receiver.verifyWith = (secret, delivery) => verify(secret, delivery.rawBody, delivery.headers);
  receiver.waitFor = (match, timeoutMs = 30_000) => {
    const found = received.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (d: ReceivedWebhook) => {
          clearTimeout(timer);
          resolve(d);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        const seen = received.map((d) => ({ path: d.path, type: d.body?.type, status: d.status }));
        reject(
          new Error(
            `no matching webhook within ${timeoutMs} ms; received: ${JSON.stringify(seen)}`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  receiver.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    });
  return receiver;
}

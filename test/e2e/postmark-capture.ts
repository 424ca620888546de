/**
 * A Postmark-compatible capture server for end-to-end tests: the real `postmark` client in
 * the worker sends to it instead of api.postmarkapp.com (POSTMARK_API_URL).
 *
 * It speaks the part of the Postmark API the service uses, as the client (postmark 5.x)
 * sends it: `POST /email` with `X-Postmark-Server-Token`, `Accept: application/json`,
 * `Content-Type: application/json` and a JSON body (From, To, Subject, HtmlBody, TextBody,
 * Tag, MessageStream). It answers as Postmark documents:
 *   - 200 `{To, SubmittedAt, MessageID, ErrorCode: 0, Message: "OK"}` — the message is recorded;
 *   - 401 `{ErrorCode: 10, Message}` for a missing or wrong server token;
 *   - 422 `{ErrorCode: 300 | 402 | 409, Message}` for an invalid request (missing From/To,
 *     no body, bad JSON, not JSON);
 *   - whatever `failNext` or `failFor` was told to answer, for delivery-failure tests.
 * And `POST /email/batch` (an array of up to 500 such messages), answered 200 with one
 * answer per message in order, as Postmark does: a message refused with a 422 of its own
 * is answered `{ErrorCode, Message}` in its place while the others are recorded; any other
 * failure (401, a `failNext` 500…) fails the whole call. Each message of a batch takes one
 * of `failNext`'s failures.
 * Rejected requests (and refused messages of a batch) are recorded too (in `rejected`), so a
 * test can see what was refused.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface CapturedMessage {
  id: string;
  receivedAt: Date;
  token: string;
  headers: IncomingMessage["headers"];
  From: string;
  To: string;
  Subject: string;
  HtmlBody?: string;
  TextBody?: string;
  Tag?: string;
  MessageStream?: string;
  /** The whole JSON body as received. */
  body: Record<string, unknown>;
}

export interface RejectedRequest {
  method: string;
  path: string;
  status: number;
  errorCode: number;
  message: string;
  body: unknown;
}

export interface FailureReply {
  status: number;
  errorCode: number;
  message: string;
}

export interface PostmarkCapture {
  /** `http://127.0.0.1:<port>`: the value for POSTMARK_API_URL. */
  url: string;
  port: number;
  /** The server token a request must carry; change it to simulate a revoked token. */
  token: string;
  messages: CapturedMessage[];
  rejected: RejectedRequest[];
  /** The next `count` valid sends are answered with `reply` instead of being accepted. */
  failNext(reply: FailureReply, count?: number): void;
  /** Every send to `email` (case-insensitive) is answered with `reply` until told otherwise. */
  failFor(email: string, reply: FailureReply | null): void;
  /** Resolves with the first message (present or arriving within `timeoutMs`) that matches. */
  waitForMessage(
    match: (m: CapturedMessage) => boolean,
    timeoutMs?: number,
  ): Promise<CapturedMessage>;
  /** Messages addressed to `email` (case-insensitive), in arrival order. */
  messagesTo(email: string): CapturedMessage[];
  close(): Promise<void>;
}

const MAX_BODY = 10 * 1024 * 1024; // Postmark's own limit for a message with attachments.

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error("body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

const nonEmptyString = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";

export async function startPostmarkCapture(options: { token: string }): Promise<PostmarkCapture> {
  const messages: CapturedMessage[] = [];
  const rejected: RejectedRequest[] = [];
  const waiters = new Set<{
    match: (m: CapturedMessage) => boolean;
    resolve: (m: CapturedMessage) => void;
  }>();
  const failures: FailureReply[] = [];
  const failing = new Map<string, FailureReply>();

  const capture = {
    url: "",
    port: 0,
    token: options.token,
    messages,
    rejected,
  } as PostmarkCapture;

  /** Records a refusal (of a request, or of one message of a batch) and answers its body. */
  function refusal(req: IncomingMessage, failure: FailureReply, body: unknown) {
    const { status, errorCode, message } = failure;
    rejected.push({
      method: req.method ?? "",
      path: req.url ?? "",
      status,
      errorCode,
      message,
      body,
    });
    return { ErrorCode: errorCode, Message: message };
  }

  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    errorCode: number,
    message: string,
    body: unknown,
  ) {
    reply(res, status, refusal(req, { status, errorCode, message }, body));
  }

  /** One message's validation, as Postmark checks each message: a refusal, or null. */
  function refusalOf(b: Record<string, unknown>): FailureReply | null {
    if (!nonEmptyString(b.From))
      return { status: 422, errorCode: 300, message: "Invalid 'From' address: ''." };
    if (!nonEmptyString(b.To))
      return { status: 422, errorCode: 300, message: "Zero recipients specified" };
    if (!nonEmptyString(b.HtmlBody) && !nonEmptyString(b.TextBody)) {
      return {
        status: 422,
        errorCode: 300,
        message: "Provide either email TextBody or HtmlBody or both.",
      };
    }
    return failing.get(b.To.toLowerCase()) ?? failures.shift() ?? null;
  }

  function record(req: IncomingMessage, token: string, b: Record<string, unknown>) {
    const message: CapturedMessage = {
      id: randomUUID(),
      receivedAt: new Date(),
      token,
      headers: req.headers,
      From: String(b.From),
      To: String(b.To),
      Subject: typeof b.Subject === "string" ? b.Subject : "",
      HtmlBody: typeof b.HtmlBody === "string" ? b.HtmlBody : undefined,
      TextBody: typeof b.TextBody === "string" ? b.TextBody : undefined,
      Tag: typeof b.Tag === "string" ? b.Tag : undefined,
      MessageStream: typeof b.MessageStream === "string" ? b.MessageStream : undefined,
      body: b,
    };
    messages.push(message);
    for (const w of waiters) {
      if (w.match(message)) {
        waiters.delete(w);
        w.resolve(message);
      }
    }
    return {
      To: message.To,
      SubmittedAt: message.receivedAt.toISOString(),
      MessageID: message.id,
      ErrorCode: 0,
      Message: "OK",
    };
  }

  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? "/", "http://capture").pathname;
    const batch = path === "/email/batch";
    if ((path !== "/email" && !batch) || req.method !== "POST") {
      // Anything else the service might start calling shows up as a failure in the tests.
      refuse(req, res, 404, 0, `Not supported by the capture server: ${req.method} ${path}`, null);
      return;
    }
    const raw = await readBody(req);
    const token = req.headers["x-postmark-server-token"];
    if (typeof token !== "string" || token !== capture.token) {
      refuse(
        req,
        res,
        401,
        10,
        "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. Please verify that you are using a valid token.",
        raw,
      );
      return;
    }
    if (
      !String(req.headers["content-type"] ?? "")
        .toLowerCase()
        .startsWith("application/json")
    ) {
      refuse(
        req,
        res,
        422,
        409,
        "JSON required. Please set 'Content-Type: application/json'.",
        raw,
      );
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      refuse(req, res, 422, 402, "Invalid JSON", raw);
      return;
    }
    if (!batch) {
      if (!isObject(body)) return refuse(req, res, 422, 402, "Invalid JSON", raw);
      const failure = refusalOf(body);
      if (failure)
        return refuse(req, res, failure.status, failure.errorCode, failure.message, body);
      return reply(res, 200, record(req, token, body));
    }
    // A batch: an array of at most 500 messages, each answered in order. A message Postmark
    // refuses (a 422 of its own) is answered in its place; any other failure fails the call.
    if (!Array.isArray(body) || body.length > 500 || !body.every(isObject)) {
      return refuse(req, res, 422, 402, "Invalid JSON", raw);
    }
    const refusals = body.map(refusalOf);
    const whole = refusals.find((f) => f && f.status !== 422);
    if (whole) return refuse(req, res, whole.status, whole.errorCode, whole.message, body);
    const answers = body.map((b, i) => {
      const failure = refusals[i];
      if (!failure) return record(req, token, b);
      return refusal(req, failure, b);
    });
    reply(res, 200, answers);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        reply(res, 500, { ErrorCode: 0, Message: `capture server error: ${String(err)}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  capture.port = port;
  capture.url = `http://127.0.0.1:${port}`;

  capture.failNext = (failure, count = 1) => {
    for (let i = 0; i < count; i++) failures.push(failure);
  };
  capture.failFor = (email, failure) => {
    if (failure) failing.set(email.toLowerCase(), failure);
    else failing.delete(email.toLowerCase());
  };
  capture.messagesTo = (email) =>
    messages.filter((m) => m.To.toLowerCase() === email.toLowerCase());
  capture.waitForMessage = (match, timeoutMs = 5_000) => {
    const found = messages.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: CapturedMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(
            `no matching message within ${timeoutMs} ms; received: ${JSON.stringify(messages.map((m) => ({ To: m.To, Subject: m.Subject })))}`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  capture.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    });
  return capture;
}

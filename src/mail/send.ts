/**
 * Outgoing mail. With POSTMARK_SERVER_TOKEN set, mail goes through the postmark client to
 * POSTMARK_API_URL (any Postmark-compatible server); without it, and only in development,
 * it is printed and kept in a KV outbox readable at GET /v1/dev/outbox.
 */
import { ServerClient } from "postmark";
import type { Config } from "../config";
import type { Bindings, Ctx } from "../context";

export interface Mail {
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Postmark tag, for the sender's own statistics. */
  tag: string;
}

export type Delivery = "sent" | "outbox" | "not_configured" | "failed";

const OUTBOX_TTL_SECONDS = 24 * 60 * 60;

/** One client per configuration (an isolate has one): it holds nothing per mail. */
const clients = new WeakMap<Config, ServerClient>();
function postmarkClient(config: Config) {
  let client = clients.get(config);
  if (!client) {
    const url = new URL(config.postmark.apiUrl);
    client = new ServerClient(config.postmark.serverToken!, {
      useHttps: url.protocol === "https:",
      requestHost: url.host,
      timeout: 10,
    });
    clients.set(config, client);
  }
  return client;
}

/** What one try gave, and whether trying again could help. */
export interface Attempt {
  delivery: Delivery;
  /** A failure that may pass (network, Postmark 5xx or 429); a 4xx refusal will not. */
  retryable: boolean;
  /** The HTTP status Postmark answered a failure with (0: no answer). */
  status?: number;
}

export async function sendMail(
  ctx: Pick<Ctx, "env" | "config" | "now">,
  mail: Mail,
): Promise<Delivery> {
  return (await attemptMail(ctx, mail)).delivery;
}

const postmarkMessage = (config: Config, mail: Mail) => ({
  From: config.emailFrom,
  To: mail.to,
  Subject: mail.subject,
  HtmlBody: mail.html,
  TextBody: mail.text,
  Tag: mail.tag,
  MessageStream: "outbound",
});

/** What a send Postmark answered with an error (or never answered) gave. */
function failed(mail: Mail, status: number, err: unknown): Attempt {
  console.error(
    JSON.stringify({ msg: "mail not sent", to: mail.to, tag: mail.tag, status, err: String(err) }),
  );
  const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
  return { delivery: "failed", retryable: !refused, status };
}

const statusOf = (err: unknown) => Number((err as { statusCode?: unknown }).statusCode) || 0;

export async function attemptMail(
  ctx: Pick<Ctx, "env" | "config" | "now">,
  mail: Mail,
): Promise<Attempt> {
  const { config } = ctx;
  if (!config.postmark.serverToken) return keepOrRefuse(ctx, mail);
  try {
    await postmarkClient(config).sendEmail(postmarkMessage(config, mail));
    return { delivery: "sent", retryable: false };
  } catch (err) {
    return failed(mail, statusOf(err), err);
  }
}

/** Postmark takes at most this many messages in one batch call. */
const POSTMARK_BATCH_MAX = 500;

/**
 * One try at each mail, each answered in order: through Postmark, one call per 500 mails
 * instead of one per mail. Postmark answers a batch 200 with an outcome per message; a
 * message it refuses (an inactive recipient, an invalid address) fails alone, as its own
 * 422 would have, while a call that fails as a whole (network, 401, 429, 5xx) fails each.
 */
export async function attemptMails(
  ctx: Pick<Ctx, "env" | "config" | "now">,
  mails: Mail[],
): Promise<Attempt[]> {
  const { config } = ctx;
  if (!config.postmark.serverToken) return Promise.all(mails.map((m) => keepOrRefuse(ctx, m)));
  const chunks: Mail[][] = [];
  for (let i = 0; i < mails.length; i += POSTMARK_BATCH_MAX) {
    chunks.push(mails.slice(i, i + POSTMARK_BATCH_MAX));
  }
  const answered = await Promise.all(
    chunks.map(async (chunk): Promise<Attempt[]> => {
      try {
        const answers = await postmarkClient(config).sendEmailBatch(
          chunk.map((mail) => postmarkMessage(config, mail)),
        );
        return chunk.map((mail, i) => {
          const answer = answers[i];
          if (answer?.ErrorCode === 0) return { delivery: "sent", retryable: false };
          // Unanswered, it may yet go; refused, it is what a lone send's 422 would say.
          return answer
            ? failed(mail, 422, `${answer.ErrorCode}: ${answer.Message}`)
            : failed(mail, 0, "no answer");
        });
      } catch (err) {
        const status = statusOf(err);
        return chunk.map((mail) => failed(mail, status, err));
      }
    }),
  );
  return answered.flat();
}

/** Without Postmark: kept in the development outbox, or refused outside development. */
async function keepOrRefuse(
  ctx: Pick<Ctx, "env" | "config" | "now">,
  mail: Mail,
): Promise<Attempt> {
  const { env, config, now } = ctx;
  if (!config.development) {
    console.error(
      JSON.stringify({
        msg: "mail not configured: POSTMARK_SERVER_TOKEN is missing",
        tag: mail.tag,
      }),
    );
    return { delivery: "not_configured", retryable: false };
  }
  const id = crypto.randomUUID();
  // Newest first when listed: KV lists keys in ascending order.
  const key = `outbox:${String(Number.MAX_SAFE_INTEGER - now).padStart(16, "0")}:${id}`;
  const entry = {
    id,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    tag: mail.tag,
    sent_at: new Date(now).toISOString(),
  };
  await env.TOKENS.put(key, JSON.stringify(entry), { expirationTtl: OUTBOX_TTL_SECONDS });
  // One line, with the link to follow by hand: the whole mail is in the outbox.
  const link = /https?:\/\/\S+/.exec(mail.text)?.[0];
  console.log(`[dev mail] to ${mail.to}: ${mail.subject}${link ? ` — ${link}` : ""}`);
  return { delivery: "outbox", retryable: false };
}

export async function readOutbox(env: Bindings, to?: string, limit = 50) {
  const listed = await env.TOKENS.list({ prefix: "outbox:", limit: 1000 });
  const entries = [];
  for (const key of listed.keys) {
    const value = await env.TOKENS.get<{ to: string }>(key.name, "json");
    if (value && (!to || value.to === to.toLowerCase())) entries.push(value);
    if (entries.length >= limit) break;
  }
  return entries;
}

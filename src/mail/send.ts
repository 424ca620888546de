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

export async function attemptMail(
  ctx: Pick<Ctx, "env" | "config" | "now">,
  mail: Mail,
): Promise<Attempt> {
  const { env, config, now } = ctx;
  if (config.postmark.serverToken) {
    try {
      await postmarkClient(config).sendEmail({
        From: config.emailFrom,
        To: mail.to,
        Subject: mail.subject,
        HtmlBody: mail.html,
        TextBody: mail.text,
        Tag: mail.tag,
        MessageStream: "outbound",
      });
      return { delivery: "sent", retryable: false };
    } catch (err) {
      const status = Number((err as { statusCode?: unknown }).statusCode) || 0;
      console.error(
        JSON.stringify({
          msg: "mail not sent",
          to: mail.to,
          tag: mail.tag,
          status,
          err: String(err),
        }),
      );
      const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
      return { delivery: "failed", retryable: !refused, status };
    }
  }
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

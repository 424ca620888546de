/** Mail bodies, each with an HTML and a plain-text part. Every interpolated value is escaped. */
import { html } from "hono/html";

const dateTime = (ms: number) =>
  new Date(ms).toLocaleString("en-GB", { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }) + " UTC";

async function render(title: string, paragraphs: ReturnType<typeof html>[], action: { label: string; url: string }) {
  const body = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a;max-width:36rem;margin:auto;padding:1rem">
<h1 style="font-size:1.25rem">${title}</h1>${paragraphs.map((p) => html`<p>${p}</p>`)}
<p><a href="${action.url}" style="display:inline-block;background:#1d4ed8;color:#fff;padding:.6rem 1rem;border-radius:4px;text-decoration:none">${action.label}</a></p>
<p style="font-size:.85rem;color:#555">Or paste this link into your browser: ${action.url}</p></body></html>`;
  return String(await body);
}

export async function invitationMail(input: { accountName: string; inviter: string | null; link: string; expiresAt: number }) {
  const who = input.inviter ? `${input.inviter} has invited you` : "You have been invited";
  const expires = dateTime(input.expiresAt);
  return {
    subject: `You're invited to ${input.accountName}`,
    html: await render(
      `Join ${input.accountName}`,
      [html`${who} to join ${input.accountName}.`, html`Choose your name and password to activate your account. This link expires on ${expires}.`],
      { label: "Activate your account", url: input.link },
    ),
    text: `${who} to join ${input.accountName}.\n\nActivate your account: ${input.link}\n\nThis link expires on ${expires}. If you did not expect this invitation, ignore this email.\n`,
  };
}

/** Mail bodies, each with an HTML and a plain-text part. Every interpolated value is escaped. */
import { html } from "hono/html";

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const pad = (n: number) => String(n).padStart(2, "0");

/**
 * "2 December 2026 at 08:05 UTC", spelled out by hand: ICU's formatter was a tenth of a
 * mail's CPU, and a fixed English form needs no locale data.
 */
const dateTime = (ms: number) => {
  const d = new Date(ms);
  const day = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  return `${day} at ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
};

async function render(
  title: string,
  paragraphs: ReturnType<typeof html>[],
  action?: { label: string; url: string },
) {
  const body = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a;max-width:36rem;margin:auto;padding:1rem">
<h1 style="font-size:1.25rem">${title}</h1>${paragraphs.map((p) => html`<p>${p}</p>`)}
${
  action
    ? html`<p><a href="${action.url}" style="display:inline-block;background:#1d4ed8;color:#fff;padding:.6rem 1rem;border-radius:4px;text-decoration:none">${action.label}</a></p>
<p style="font-size:.85rem;color:#555">Or paste this link into your browser: ${action.url}</p>`
    : ""
}</body></html>`;
  return String(await body);
}

export async function invitationMail(input: {
  accountName: string;
  inviter: string | null;
  link: string;
  expiresAt: number;
}) {
  const who = input.inviter ? `${input.inviter} has invited you` : "You have been invited";
  const expires = dateTime(input.expiresAt);
  return {
    subject: `You're invited to ${input.accountName}`,
    html: await render(
      `Join ${input.accountName}`,
      [
        html`${who} to join ${input.accountName}.`,
        html`Choose your name and password to activate your account. This link expires on ${expires}.`,
      ],
      { label: "Activate your account", url: input.link },
    ),
    text: `${who} to join ${input.accountName}.\n\nActivate your account: ${input.link}\n\nThis link expires on ${expires}. If you did not expect this invitation, ignore this email.\n`,
  };
}

export async function emailVerificationMail(input: {
  name: string;
  newEmail: string;
  link: string;
  expiresAt: number;
}) {
  const expires = dateTime(input.expiresAt);
  return {
    subject: "Confirm your new email address",
    html: await render(
      "Confirm your new email address",
      [
        html`Hello ${input.name}, please confirm that ${input.newEmail} is your new sign-in address. Until you do, keep signing in with your current one.`,
        html`This link expires on ${expires}.`,
      ],
      { label: "Confirm email address", url: input.link },
    ),
    text: `Hello ${input.name},\n\nPlease confirm that ${input.newEmail} is your new sign-in address: ${input.link}\n\nUntil you do, keep signing in with your current address. This link expires on ${expires}. If you did not ask for this, ignore this email.\n`,
  };
}

export async function emailChangeRequestedNotice(input: {
  name: string;
  oldEmail: string;
  newEmail: string;
  link: string;
  expiresAt: number;
}) {
  const expires = dateTime(input.expiresAt);
  return {
    subject: "A change of your sign-in email address was requested",
    html: await render(
      "A change of your sign-in email address was requested",
      [
        html`Hello ${input.name}, someone asked to change the sign-in address of your account from ${input.oldEmail} to ${input.newEmail}. Nothing changes until the new address is confirmed.`,
        html`If this was not you, cancel the change now and change your password. The link works until ${expires}.`,
      ],
      { label: "Cancel the change", url: input.link },
    ),
    text: `Hello ${input.name},\n\nSomeone asked to change the sign-in address of your account from ${input.oldEmail} to ${input.newEmail}. Nothing changes until the new address is confirmed.\n\nIf this was not you, cancel the change now and change your password: ${input.link}\n\nThe link works until ${expires}.\n`,
  };
}

export async function emailChangedNotice(input: {
  name: string;
  oldEmail: string;
  newEmail: string;
}) {
  return {
    subject: "Your sign-in email address was changed",
    html: await render("Your sign-in email address was changed", [
      html`Hello ${input.name}, the sign-in address of your account changed from ${input.oldEmail} to ${input.newEmail}.`,
      html`If you did not make this change, contact your administrator at once.`,
    ]),
    text: `Hello ${input.name},\n\nThe sign-in address of your account changed from ${input.oldEmail} to ${input.newEmail}.\nIf you did not make this change, contact your administrator at once.\n`,
  };
}

export async function passwordResetMail(input: { name: string; link: string; expiresAt: number }) {
  const expires = dateTime(input.expiresAt);
  return {
    subject: "Reset your password",
    html: await render(
      "Reset your password",
      [
        html`Hello ${input.name}, use the button below to choose a new password. The link works once and expires on ${expires}.`,
        html`If you did not ask for this, you can ignore this email.`,
      ],
      { label: "Choose a new password", url: input.link },
    ),
    text: `Hello ${input.name},\n\nChoose a new password: ${input.link}\n\nThe link works once and expires on ${expires}. If you did not ask for this, ignore this email.\n`,
  };
}

export async function ssoOnlyResetMail(input: { name: string; accountName: string }) {
  return {
    subject: "How to sign in",
    html: await render("How to sign in", [
      html`Hello ${input.name}, someone asked to reset your password, but ${input.accountName} signs you in through your organization's identity provider (Team Login).`,
      html`Sign in with your identity provider instead; your password there is managed by your IT team.`,
    ]),
    text: `Hello ${input.name},\n\nSomeone asked to reset your password, but ${input.accountName} signs you in through your organization's identity provider (Team Login). Sign in with it instead; your password there is managed by your IT team.\n`,
  };
}

/**
 * Invitation mail, off the request path. Inviting commits the row with its mail `queued`
 * and hands a message to the MAIL queue; the consumer mints the link, indexes it, sends
 * it, and records `sent`, or `failed` with an `invitation.delivery_failed` event.
 *
 * The link's token is minted here, in the consumer, not during the request: the message
 * then holds no secret (queue messages are kept by the platform, retried, and logged
 * whole when they end in the dead-letter queue), and a message the cron re-queues for
 * lost mail needs nothing the request knew. The claim writes the new token's digest in
 * the same statement that checks the mail is still owed, so the link works the moment it
 * is mailed; a retry mints again, which leaves only the newest mail's link working, as a
 * resend does. The row's digest until the first claim matches no token at all.
 */
import { z } from "zod";
import type { EventInput } from "../activity/record";
import type { Ctx } from "../context";
import { commit } from "../db/commit";
import { appLink } from "../http/links";
import { iso } from "../lib/clock";
import { randomSecret } from "../lib/crypto";
import { attemptMail } from "../mail/send";
import { invitationMail } from "../mail/templates";
import { mintToken } from "../tokens/single-use";
import * as repo from "./repo";

export const INVITATION_TOKEN = {
  prefix: "inv",
  idField: "invitation_id",
  invalid: "invitation_invalid",
} as const;

/** Tries per mail, the first included; the queue's own retries only back up a crashing consumer. */
export const MAIL_ATTEMPTS = 6;
/** Mail owed and quiet this long lost its message: the cron queues it again. */
export const MAIL_STALLED_AFTER_MS = 10 * 60 * 1000;

export const MailMessage = z.object({
  kind: z.literal("invitation"),
  account_id: z.string().min(1),
  invitation_id: z.string().min(1),
  mail_id: z.string().min(1),
});
export type MailMessage = z.infer<typeof MailMessage>;

/** A fresh mail for an invitation: its id, and a digest no token has until the consumer mints one. */
export function owedMail(now: number) {
  const mailId = randomSecret(16);
  return {
    mailId,
    tokenHash: `unsent:${mailId}`,
    emailDelivery: "queued" as const,
    mailTouchedAt: now,
  };
}

const messageOf = (row: { accountId: string; id: string; mailId: string | null }) =>
  ({
    kind: "invitation",
    account_id: row.accountId,
    invitation_id: row.id,
    mail_id: row.mailId!,
  }) satisfies MailMessage;

/**
 * After commit: hands the mail to the queue without waiting. A lost send loses nothing:
 * the row still says `queued`, and the cron queues it again.
 */
export function queueInvitationMail(
  ctx: Ctx,
  rows: { accountId: string; id: string; mailId: string | null }[],
): void {
  for (let i = 0; i < rows.length; i += 100) {
    const messages = rows.slice(i, i + 100).map((row) => ({ body: messageOf(row) }));
    ctx.waitUntil(
      ctx.env.MAIL.sendBatch(messages).catch((err: unknown) =>
        console.warn(
          JSON.stringify({
            msg: "invitation mail not queued; the cron will queue it again",
            request_id: ctx.meta.requestId,
            err: String(err),
          }),
        ),
      ),
    );
  }
}

/** Grows 10 s, 20 s, 40 s… up to five minutes: well under MAIL_STALLED_AFTER_MS. */
export const mailRetryDelaySeconds = (attempts: number) => Math.min(300, 10 * 2 ** (attempts - 1));

export type MailOutcome = "sent" | "failed" | "retry" | "stale";

/** One try at the mail a message stands for; `attempts` counts this one. */
export async function deliverInvitationMail(
  ctx: Ctx,
  message: MailMessage,
  attempts: number,
): Promise<MailOutcome> {
  const { db, now } = ctx;
  const { account_id: accountId, invitation_id: id, mail_id: mailId } = message;
  const token = await mintToken(INVITATION_TOKEN);
  const [claimed, names] = await commit(ctx, [
    repo.claimMail(db, accountId, id, mailId, token.hash, now),
    repo.mailNames(accountId, id),
  ]);
  const raw = claimed?.rows[0];
  if (!raw) return "stale";
  const row = repo.invitationOf(raw);
  const named = names?.rows[0] as { account_name: string; inviter_name: string | null };
  await token.index(ctx, { invitation_id: id, account_id: accountId }, row.expiresAt);
  const mail = await invitationMail({
    accountName: named.account_name,
    inviter: named.inviter_name || null,
    link: appLink(ctx, "/activate", { token: token.token }),
    expiresAt: row.expiresAt,
  });
  const attempt = await attemptMail(ctx, { to: row.email, ...mail, tag: "invitation" });
  if (attempt.delivery === "sent" || attempt.delivery === "outbox") {
    await commit(ctx, [repo.settleMail(db, accountId, id, mailId, "sent")]);
    return "sent";
  }
  if (attempt.retryable && attempts < MAIL_ATTEMPTS) return "retry";
  const reason = attempt.retryable
    ? "retries_exhausted"
    : attempt.delivery === "not_configured"
      ? "not_configured"
      : "refused";
  const failed: EventInput = {
    type: "invitation.delivery_failed",
    accountId,
    actor: { type: "system", id: null },
    subject: { type: "invitation", id },
    metadata: {
      email: row.email,
      attempts,
      reason,
      status: attempt.status ?? null,
      expires_at: iso(row.expiresAt),
    },
    when: repo.mailQueued(accountId, id, mailId),
  };
  await commit(ctx, [repo.settleMail(db, accountId, id, mailId, "failed")], [failed]);
  return "failed";
}

/** The cron: mail still owed whose message went missing is queued again. */
export async function requeueStalledMail(ctx: Ctx, limit = 200) {
  const rows = await repo.listStalledMailAcrossAccounts(
    ctx.db,
    ctx.now,
    ctx.now - MAIL_STALLED_AFTER_MS,
    limit,
  );
  if (rows.length === 0) return 0;
  await commit(ctx, [
    repo.touchMailAcrossAccounts(
      rows.map((r) => r.id),
      ctx.now,
    ),
  ]);
  for (let i = 0; i < rows.length; i += 100) {
    await ctx.env.MAIL.sendBatch(rows.slice(i, i + 100).map((row) => ({ body: messageOf(row) })));
  }
  return rows.length;
}

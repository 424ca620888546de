/**
 * Invitation mail, off the request path. Inviting commits the row with its mail `queued`
 * and hands a message to the EVENTS queue; its consumer mints the link, indexes it, sends
 * it, and records `sent`, or `failed` with an `invitation.delivery_failed` event.
 *
 * The link's token is minted here, in the consumer, not during the request: the message
 * then holds no secret (queue messages are kept by the platform, retried, and logged
 * whole when they end in the dead-letter queue), and a message the cron re-queues for
 * lost mail needs nothing the request knew. The claim writes the new token's digest in
 * the same statement that checks the mail is still owed, so the link works the moment it
 * is mailed; a retry mints again, which leaves only the newest mail's link working, as a
 * resend does. The row's digest until the first claim matches no token at all.
 *
 * A queue batch is handled whole: every claim in one commit, every mail in one call to
 * Postmark's batch API, every outcome in a second commit, so the database sees two round trips
 * and Postmark one call however long the batch.
 */
import { z } from "zod";
import type { EventInput } from "../activity/record";
import type { Ctx } from "../context";
import type { Statement } from "../db/batch";
import { commit } from "../db/commit";
import { appLink } from "../http/links";
import { iso } from "../lib/clock";
import { randomSecret } from "../lib/crypto";
import { type Attempt, attemptMails, type Mail } from "../mail/send";
import { invitationMail } from "../mail/templates";
import { type MintedToken, mintToken } from "../tokens/single-use";
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
  if (rows.length > 0) ctx.send(rows.map(messageOf));
}

/** Grows 10 s, 20 s, 40 s… up to five minutes: well under MAIL_STALLED_AFTER_MS. */
export const mailRetryDelaySeconds = (attempts: number) => Math.min(300, 10 * 2 ** (attempts - 1));

export type MailOutcome = "sent" | "failed" | "retry" | "stale";

/** One message's try: `attempts` counts this one. */
export interface MailTry {
  message: MailMessage;
  attempts: number;
}

/** A claimed mail, and what trying to send it gave (a throw stands for "try again"). */
interface Claimed {
  index: number;
  message: MailMessage;
  attempts: number;
  row: repo.InvitationRow;
  attempt?: Attempt;
}

/**
 * One try at each mail a batch of messages stands for, in two D1 round trips however many
 * there are: one commit claims them all (each in its own account), the claimed ones are
 * indexed and written concurrently and sent in one call, and one commit records every
 * outcome. Answers each message's outcome, in order; a failure of either commit throws, and
 * every message is tried again, as a throw for one message did before: an unsettled claim
 * stays owed.
 */
export async function deliverInvitationMails(ctx: Ctx, tries: MailTry[]): Promise<MailOutcome[]> {
  const { now } = ctx;
  const outcomes: MailOutcome[] = tries.map(() => "stale");
  // A message duplicated within the batch would claim twice and mail twice; one after
  // another, the second found the mail settled. The first stands for both.
  const seen = new Set<string>();
  const owed = tries
    .map((t, index) => ({ ...t, index }))
    .filter(({ message: m }) => {
      const key = `${m.account_id}\n${m.invitation_id}\n${m.mail_id}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  if (owed.length === 0) return outcomes;
  const tokens = await Promise.all(owed.map(() => mintToken(INVITATION_TOKEN)));
  const results = await commit(
    ctx,
    owed.map(({ message: m }, i) =>
      repo.claimMail({
        accountId: m.account_id,
        id: m.invitation_id,
        mailId: m.mail_id,
        tokenHash: tokens[i]!.hash,
        now,
      }),
    ),
  );
  const claimed: (Claimed & { token: MintedToken; named: MailNames })[] = [];
  owed.forEach((t, i) => {
    const raw = results[i]?.rows[0];
    if (!raw) return;
    const named = raw as unknown as MailNames;
    claimed.push({ ...t, row: repo.invitationOf(raw), token: tokens[i]!, named });
  });
  // Each link indexed and each mail written side by side; then one call sends them all.
  const ready = await Promise.all(
    claimed.map(async (c) => {
      try {
        return { c, mail: await prepare(ctx, c) };
      } catch (err) {
        // As a throw did for one message alone: this one is tried again, the others go on.
        console.error(
          JSON.stringify({
            msg: "mail message failed; the queue will retry",
            invitation_id: c.message.invitation_id,
            err: String(err),
          }),
        );
        return null;
      }
    }),
  );
  const prepared = ready.filter((r) => r !== null);
  const attempts = await attemptMails(
    ctx,
    prepared.map((r) => r.mail),
  );
  prepared.forEach((r, i) => {
    r.c.attempt = attempts[i];
  });
  const settles: Statement[] = [];
  const events: EventInput[] = [];
  for (const c of claimed) {
    const outcome = outcomeOf(c);
    outcomes[c.index] = outcome;
    const { account_id: accountId, invitation_id: id, mail_id: mailId } = c.message;
    if (outcome === "sent" || outcome === "failed") {
      settles.push(repo.settleMail({ accountId, id, mailId, outcome }));
    }
    if (outcome === "failed") events.push(deliveryFailed(c));
  }
  if (settles.length > 0) await commit(ctx, settles, events);
  return outcomes;
}

interface MailNames {
  account_name: string;
  inviter_name: string | null;
}

/** Indexes the claimed mail's link and writes the mail. */
async function prepare(
  ctx: Ctx,
  { message, row, token, named }: Claimed & { token: MintedToken; named: MailNames },
): Promise<Mail> {
  const { account_id: accountId, invitation_id: id } = message;
  await token.index(ctx, { invitation_id: id, account_id: accountId }, row.expiresAt);
  const mail = await invitationMail({
    accountName: named.account_name,
    inviter: named.inviter_name || null,
    link: appLink(ctx, "/activate", { token: token.token }),
    expiresAt: row.expiresAt,
  });
  return { to: row.email, ...mail, tag: "invitation" };
}

function outcomeOf({ attempt, attempts }: Claimed): MailOutcome {
  if (!attempt) return "retry";
  if (attempt.delivery === "sent" || attempt.delivery === "outbox") return "sent";
  if (attempt.retryable && attempts < MAIL_ATTEMPTS) return "retry";
  return "failed";
}

function deliveryFailed({ message, attempts, row, attempt }: Claimed): EventInput {
  const { account_id: accountId, invitation_id: id, mail_id: mailId } = message;
  const reason = attempt!.retryable
    ? "retries_exhausted"
    : attempt!.delivery === "not_configured"
      ? "not_configured"
      : "refused";
  return {
    type: "invitation.delivery_failed",
    accountId,
    actor: { type: "system", id: null },
    subject: { type: "invitation", id },
    metadata: {
      email: row.email,
      attempts,
      reason,
      status: attempt!.status ?? null,
      expires_at: iso(row.expiresAt),
    },
    when: repo.mailQueued(accountId, id, mailId),
  };
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
    await ctx.env.EVENTS.sendBatch(rows.slice(i, i + 100).map((row) => ({ body: messageOf(row) })));
  }
  return rows.length;
}

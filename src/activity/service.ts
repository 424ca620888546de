/** The audit trail as members see it: filtered lists, a user's events, inactive users, exports. */
import { stringify } from "csv-stringify/sync";
import type { AuthedCtx } from "../context";
import { iso } from "../lib/clock";
import { spreadsheetSafe } from "../lib/csv";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { toUserDto } from "../users/dto";
import { listInactiveUsers } from "../users/repo";
import * as repo from "./repo";

export function toEventDto(e: repo.EventRecord) {
  return {
    id: e.id,
    type: e.type,
    occurred_at: iso(e.occurredAt)!,
    account_id: e.accountId,
    actor: { type: e.actorType, id: e.actorId },
    subject: e.subjectType ? { type: e.subjectType, id: e.subjectId } : null,
    method: e.method,
    ip: e.ip,
    user_agent: e.userAgent,
    metadata: e.metadata,
  };
}

function positionFrom(cursor: string | undefined): repo.Position | undefined {
  const key = decodeCursor(cursor);
  if (key === undefined) return undefined;
  const m = /^(\d{1,15}):(evt_[0-9a-z]{26})$/.exec(key);
  if (!m)
    throw new AppError("validation_failed", "The cursor is not valid.", {
      errors: [
        { path: "cursor", code: "invalid_cursor", message: "Not a cursor returned by this API." },
      ],
    });
  return { at: Number(m[1]), id: m[2]! };
}

export async function listActivity(
  ctx: AuthedCtx,
  filter: repo.ActivityFilter,
  limit: number,
  cursor?: string,
) {
  const after = positionFrom(cursor);
  const rows = await repo.listEvents(ctx.db, ctx.principal.accountId, filter, limit + 1, after);
  return toPage(rows, limit, toEventDto, (e) => `${e.occurredAt}:${e.id}`);
}

export async function userActivity(
  ctx: AuthedCtx,
  userId: string,
  filter: repo.ActivityFilter,
  limit: number,
  cursor?: string,
) {
  // A deleted user's trail stays readable; an id this account never knew is not found.
  if (!(await repo.knownSubject(ctx.db, ctx.principal.accountId, userId)))
    throw new AppError("not_found", "No such user.");
  return listActivity(ctx, { ...filter, userId }, limit, cursor);
}

export async function inactiveUsersReport(
  ctx: AuthedCtx,
  days: number,
  limit: number,
  cursor?: string,
) {
  const before = ctx.now - days * 24 * 60 * 60 * 1000;
  const { accountId } = ctx.principal;
  const rows = await listInactiveUsers(ctx.db, accountId, before, limit, decodeCursor(cursor));
  const page = toPage(
    rows,
    limit,
    (r) => ({ ...toUserDto(r.user, r.groupIds), never_logged_in: r.user.lastLoginAt === null }),
    (r) => r.user.id,
  );
  return { days, ...page };
}

const EXPORT_PAGE = 500;
const CSV_COLUMNS = [
  "id",
  "type",
  "occurred_at",
  "account_id",
  "actor_type",
  "actor_id",
  "subject_type",
  "subject_id",
  "method",
  "ip",
  "user_agent",
  "metadata",
];

/**
 * Streams the whole range, page by page, so memory stays flat however large it is. Each
 * page is read when the consumer pulls, so a slow client slows the reads, not the heap.
 */
export function exportActivity(
  ctx: AuthedCtx,
  format: "csv" | "ndjson",
  filter: repo.ActivityFilter,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after: repo.Position | undefined;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started && format === "csv")
          controller.enqueue(encoder.encode(stringify([CSV_COLUMNS])));
        started = true;
        const rows = await repo.listEvents(
          ctx.db,
          ctx.principal.accountId,
          filter,
          EXPORT_PAGE,
          after,
        );
        if (rows.length === 0) return controller.close();
        const dtos = rows.map(toEventDto);
        const text =
          format === "ndjson"
            ? `${dtos.map((e) => JSON.stringify(e)).join("\n")}\n`
            : stringify(
                dtos.map((e) =>
                  [
                    e.id,
                    e.type,
                    e.occurred_at,
                    e.account_id,
                    e.actor.type,
                    e.actor.id,
                    e.subject?.type,
                    e.subject?.id,
                    e.method,
                    e.ip,
                    e.user_agent,
                    JSON.stringify(e.metadata),
                  ].map(spreadsheetSafe),
                ),
              );
        controller.enqueue(encoder.encode(text));
        const last = rows.at(-1)!;
        after = { at: last.occurredAt, id: last.id };
        if (rows.length < EXPORT_PAGE) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

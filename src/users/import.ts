/**
 * Bulk import (POST /v1/users/import): CSV with a header row, or JSON `{rows}`;
 * each row invites (default) or creates a user. Every row is its own all-or-nothing batch,
 * run in the account's object, so capacity holds row by row and no row is half-written.
 */

import { z } from "@hono/zod-openapi";
import { parse as parseCsv } from "csv-parse/sync";
import { by } from "../activity/record";
import { seatsAvailable } from "../billing/service";
import { capacityError } from "../capacity/refusal";
import type { AuthedCtx } from "../context";
import { type Change, commitEachTakingSeat } from "../db/commit";
import { validationError } from "../http/router";
import { queueInvitationMail } from "../invitations/mail";
import type { InvitationRow } from "../invitations/repo";
import { invitation, invitationTtl, inviterOf } from "../invitations/service";
import { AppError } from "../lib/errors";
import { Email, Password, PersonName } from "./schemas";
import { userCreation, withMembers } from "./service";

const MAX_IMPORT_ROWS = 1000;
/**
 * Each password costs a deliberately slow scrypt hash, so a request may carry only as many
 * as fit in a Worker's CPU time; larger files are sent in parts.
 */
const MAX_PASSWORD_ROWS = 50;
const COLUMNS = ["email", "first_name", "last_name", "group_ids", "action", "password"] as const;

const GroupList = z
  .union([z.array(z.string().min(1).max(64)), z.string().max(2000)])
  .transform((v) => (Array.isArray(v) ? v : v.split(";")).map((s) => s.trim()).filter(Boolean));

const ImportRow = z.strictObject({
  email: Email,
  first_name: PersonName.optional(),
  last_name: PersonName.optional(),
  group_ids: GroupList.optional(),
  action: z.enum(["invite", "create"]).default("invite"),
  password: Password.optional(),
});

export const ImportJson = z.strictObject({
  rows: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_IMPORT_ROWS),
});

interface RowResult {
  row: number;
  status: "invited" | "created" | "failed";
  code?: string;
  detail?: string;
  id?: string;
  email?: string;
}

/** CSV text into row objects, keyed by the header; empty cells are absent. */
export function rowsFromCsv(text: string): Record<string, string>[] {
  let records: string[][];
  try {
    records = parseCsv(text, {
      bom: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: false,
    });
  } catch (err) {
    throw new AppError(
      "validation_failed",
      `The CSV could not be read: ${(err as Error).message}`,
      {
        errors: [{ path: "body", code: "invalid_csv", message: (err as Error).message }],
      },
    );
  }
  const [header, ...data] = records;
  const columns = (header ?? []).map((h) => h.toLowerCase());
  const unknown = columns.filter((c) => !(COLUMNS as readonly string[]).includes(c));
  if (!columns.includes("email") || unknown.length > 0) {
    throw new AppError(
      "validation_failed",
      `The header row must name an email column and only known columns (${COLUMNS.join(", ")}).`,
      {
        errors: [
          {
            path: "header",
            code: unknown.length ? "unknown_field" : "missing_column",
            message: unknown.length ? `Unknown: ${unknown.join(", ")}` : "email is required",
          },
        ],
      },
    );
  }
  if (data.length === 0)
    throw new AppError("validation_failed", "The CSV has no data rows.", {
      errors: [{ path: "body", code: "too_small", message: "No rows." }],
    });
  if (data.length > MAX_IMPORT_ROWS) {
    throw new AppError("validation_failed", `At most ${MAX_IMPORT_ROWS} rows per import.`, {
      errors: [{ path: "body", code: "too_big", message: `${data.length} rows` }],
    });
  }
  return data.map((cells) =>
    Object.fromEntries(columns.flatMap((c, i) => (cells[i] ? [[c, cells[i]]] : []))),
  );
}

/** Refused whole, before any work, when it carries more passwords than one request can hash. */
function checkPasswordRows(rawRows: Record<string, unknown>[]) {
  const withPassword = rawRows.filter((r) => r.action === "create" && !!r.password).length;
  if (withPassword <= MAX_PASSWORD_ROWS) return;
  const message = `At most ${MAX_PASSWORD_ROWS} create rows with a password per request; this one has ${withPassword}. Send the file in parts.`;
  throw new AppError("validation_failed", message, {
    errors: [{ path: "rows", code: "too_big", message }],
  });
}

export async function importUsers(ctx: AuthedCtx, rawRows: Record<string, unknown>[]) {
  const { principal } = ctx;
  checkPasswordRows(rawRows);
  const results: RowResult[] = new Array(rawRows.length);
  const planned: (Change & { index: number; done: () => Promise<RowResult> })[] = [];
  const inviter = inviterOf(ctx);
  const invited: InvitationRow[] = [];
  // Rows beyond the free seats are refused before their password is hashed.
  const seats = await seatsAvailable(ctx, principal.accountId);
  let seatsLeft = seats.available;

  for (const [index, raw] of rawRows.entries()) {
    const row = index + 1;
    const parsed = ImportRow.safeParse(raw);
    if (!parsed.success) {
      const err = validationError(parsed.error);
      results[index] = { row, status: "failed", code: err.code, detail: err.detail };
      continue;
    }
    if (seatsLeft <= 0) {
      const err = capacityError("users", seats.refusal);
      results[index] = { row, status: "failed", code: err.code, detail: err.detail };
      continue;
    }
    const input = parsed.data;
    try {
      if (input.action === "create") {
        const { password, first_name, last_name } = input;
        if (!password || !first_name || !last_name) {
          throw new AppError(
            "validation_failed",
            "A create row needs first_name, last_name and password.",
          );
        }
        const built = await userCreation(
          ctx,
          { ...input, first_name, last_name, password },
          "import",
        );
        const { id, email } = built.user;
        planned.push({
          ...built,
          index,
          done: async () => ({ row, status: "created", id, email }),
        });
        seatsLeft -= 1;
      } else {
        const groupIds = withMembers(ctx, input.group_ids);
        const built = await invitation(
          ctx,
          principal.accountId,
          { email: input.email, groupIds },
          inviter,
          invitationTtl(ctx),
        );
        planned.push({
          ...built,
          index,
          done: async () => {
            invited.push(built.row);
            return { row, status: "invited", id: built.row.id, email: built.row.email };
          },
        });
        seatsLeft -= 1;
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      results[index] = { row, status: "failed", code: err.code, detail: err.detail };
    }
  }

  const take = { kind: "seat", accountId: principal.accountId, by: by(principal) } as const;
  const outcomes = await commitEachTakingSeat(ctx, take, planned);
  for (const [i, plan] of planned.entries()) {
    const { error } = outcomes[i]!;
    results[plan.index] = error
      ? { row: plan.index + 1, status: "failed", code: error.code, detail: error.detail }
      : await plan.done();
  }
  queueInvitationMail(ctx, invited);
  const count = (s: RowResult["status"]) => results.filter((r) => r.status === s).length;
  return {
    summary: {
      total: results.length,
      created: count("created"),
      invited: count("invited"),
      failed: count("failed"),
    },
    results,
  };
}

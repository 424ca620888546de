/** Device organizations and devices: the resources that device-scoped grants constrain. */
import { by } from "../activity/record";
import { secretMatches, splitToken } from "../auth/bearer";
import { throttle } from "../auth/rate-limit";
import { clientKey } from "../auth/throttle";
import { authorize, scopeOf } from "../authz/authorize";
import type { AuthedCtx, Ctx } from "../context";
import { guard } from "../db/batch";
import { commit, commitTaking } from "../db/commit";
import { iso } from "../lib/clock";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as repo from "./repo";

const toOrganizationDto = (o: repo.DeviceOrganizationRow) => ({
  id: o.id,
  name: o.name,
  created_at: iso(o.createdAt)!,
});

export const toDeviceDto = (d: repo.DeviceRow) => ({
  id: d.id,
  name: d.name,
  device_organization_id: d.deviceOrganizationId,
  status: d.status,
  created_via: d.createdVia,
  created_at: iso(d.createdAt)!,
});

/**
 * An organization outside what the caller may read or write answers 404, exactly like
 * another account's, so nothing leaks; one it may read but not change answers 403. A
 * devices:write grant that covers the organization is enough on its own.
 */
function requireWritable(ctx: AuthedCtx, organizationId: string, what: string) {
  const resource = { device_organization_id: organizationId };
  if (authorize(ctx.principal.grants, "devices:write", resource).allowed) return;
  if (!authorize(ctx.principal.grants, "devices:read", resource).allowed) {
    throw new AppError("not_found", `No such ${what}.`);
  }
  throw new AppError(
    "forbidden",
    "Your devices:write grant does not cover this device organization.",
  );
}

export async function listOrganizations(ctx: AuthedCtx, limit: number, cursor?: string) {
  const { accountId, grants } = ctx.principal;
  const scope = scopeOf(grants, "devices:read", "device_organization_ids");
  const rows = await repo.listOrganizations(ctx.db, accountId, scope, limit, decodeCursor(cursor));
  return toPage(rows, limit, toOrganizationDto, (r) => r.id);
}

export async function createOrganization(ctx: AuthedCtx, name: string) {
  const { db, now, principal } = ctx;
  if (scopeOf(principal.grants, "devices:write", "device_organization_ids") !== null) {
    throw new AppError(
      "forbidden",
      "A device grant scoped to some organizations cannot create new ones.",
    );
  }
  const row = {
    id: newId("deviceOrganization"),
    accountId: principal.accountId,
    name,
    createdAt: now,
  };
  await commit(
    ctx,
    [repo.insertOrganization(db, row)],
    [
      {
        type: "device_organization.created",
        ...by(principal),
        subject: { type: "device_organization", id: row.id },
        metadata: { name },
      },
    ],
  );
  return toOrganizationDto(row);
}

export async function listDevices(ctx: AuthedCtx, limit: number, cursor?: string) {
  const { accountId, grants } = ctx.principal;
  const scope = scopeOf(grants, "devices:read", "device_organization_ids");
  const rows = await repo.listDevices(ctx.db, accountId, scope, limit, decodeCursor(cursor));
  return toPage(rows, limit, toDeviceDto, (r) => r.id);
}

/**
 * Provisioning by an admin, or claiming a paired device: the device limit holds inside the
 * account's object. Claiming a code that a paired device asked for again (re-pairing) moves
 * that device and replaces its secret, taking no new slot.
 */
export async function provisionDevice(
  ctx: AuthedCtx,
  input: { name: string; device_organization_id: string },
  pairingCode?: string,
) {
  const { db, now, principal } = ctx;
  const { accountId } = principal;
  requireWritable(ctx, input.device_organization_id, "device organization");
  const org = await repo.findOrganization(db, accountId, input.device_organization_id);
  if (!org) throw new AppError("not_found", "No such device organization.");
  const pairing = pairingCode
    ? await repo.findOpenPairingAcrossAccounts(db, pairingCode, now)
    : undefined;
  if (pairing === null)
    throw new AppError("pairing_code_invalid", "No such pairing code, or it has expired.");
  const existing = pairing?.deviceId
    ? await repo.findDeviceAcrossAccounts(db, pairing.deviceId)
    : null;
  if (existing && existing.accountId !== accountId) {
    throw new AppError("pairing_code_invalid", "No such pairing code, or it has expired.");
  }
  const createdVia = pairing ? ("paired" as const) : ("provisioned" as const);
  const row: repo.DeviceRow = {
    id: pairing?.deviceId ?? newId("device"),
    accountId,
    deviceOrganizationId: org.id,
    name: input.name,
    status: "active",
    createdVia,
    createdAt: existing?.createdAt ?? now,
    secretHash: pairing?.secretHash ?? null,
  };
  const statements = [
    ...(pairing ? repo.claimPairing(accountId, pairing.code, now) : []),
    guard("not_found", repo.organizationExists(accountId, org.id)),
    existing
      ? repo.updateDevice(db, accountId, row.id, {
          deviceOrganizationId: org.id,
          name: input.name,
          secretHash: row.secretHash,
        })
      : repo.insertDevice(db, row),
  ];
  const event = {
    type: existing ? ("device.paired_again" as const) : ("device.added" as const),
    ...by(principal),
    subject: { type: "device", id: row.id },
    metadata: { name: input.name, device_organization_id: org.id, created_via: createdVia },
  };
  const take = { kind: "device", accountId, by: by(principal) } as const;
  await commitTaking(ctx, take, statements, [event]);
  return toDeviceDto(row);
}

export async function removeDevice(ctx: AuthedCtx, id: string) {
  const { db, principal } = ctx;
  const device = await repo.findDevice(db, principal.accountId, id);
  if (!device) throw new AppError("not_found", "No such device.");
  requireWritable(ctx, device.deviceOrganizationId, "device");
  await commit(
    ctx,
    [repo.deleteDevice(db, principal.accountId, id)],
    [
      {
        type: "device.removed",
        ...by(principal),
        subject: { type: "device", id },
        metadata: { name: device.name, device_organization_id: device.deviceOrganizationId },
      },
    ],
  );
}

const PAIRING_TTL_MS = 10 * 60 * 1000;
const PAIRING_CODES_PER_HOUR = 30;
const HOUR = 60 * 60 * 1000;
// No 0/O, 1/I/L: a person reads the code off a screen and types it.
const CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

export function normalizePairingCode(code: string) {
  return code.toUpperCase().replace(/[\s-]/g, "");
}

/**
 * A device asks for a code to show, and keeps its id and secret to prove later that it is
 * that device. A device that presents its current credentials asks to be paired again: the
 * code then names the same device, and claiming it replaces the secret.
 */
export async function startPairing(ctx: Ctx, credentials: string | undefined) {
  // Anyone may ask, without a credential: the limit keeps one client from filling the table.
  const key = { key: `pairing:ip:${clientKey(ctx.meta.ip)}`, limit: PAIRING_CODES_PER_HOUR };
  await throttle(ctx, [key], HOUR, "Too many pairing codes requested. Try again later.");
  const current = credentials ? await authenticateDevice(ctx, credentials) : null;
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const code = [...bytes].map((b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join("");
  const secret = randomSecret();
  const deviceId = current?.id ?? newId("device");
  const expiresAt = ctx.now + PAIRING_TTL_MS;
  const row = {
    code,
    secretHash: await sha256Hex(secret),
    createdAt: ctx.now,
    expiresAt,
    accountId: null,
    deviceId,
  };
  await commit(ctx, [repo.insertPairing(ctx.db, row)]);
  return {
    pairing_code: `${code.slice(0, 4)}-${code.slice(4)}`,
    device_id: deviceId,
    device_secret: secret,
    expires_at: iso(expiresAt)!,
  };
}

/**
 * The device that `Device <id>.<secret>` names. A stranger gets 401; the device itself,
 * once removed (or before its code is claimed), gets 404.
 */
export async function authenticateDevice(ctx: Ctx, credentials: string) {
  const unauthorized = () =>
    new AppError("unauthorized", "Send Authorization: Device <device_id>.<secret>.");
  const parsed = splitToken(/^Device +(\S+)$/i.exec(credentials)?.[1] ?? "", "device");
  if (!parsed) throw unauthorized();
  const { device, pairingSecrets } = await repo.findDeviceCredentialsAcrossAccounts(
    ctx.db,
    parsed.id,
  );
  if (device) {
    if (await secretMatches(parsed.secret, device.secretHash)) return device;
    throw unauthorized();
  }
  for (const hash of pairingSecrets) {
    if (await secretMatches(parsed.secret, hash)) {
      throw new AppError(
        "not_found",
        "This device is not paired: it was removed, or its code has not been claimed.",
      );
    }
  }
  throw unauthorized();
}

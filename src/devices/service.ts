/** Device organizations and devices: the resources that device-scoped grants constrain. */
import { sql } from "drizzle-orm";
import { actorOf, buildEvent, insertEvent, publish } from "../activity/record";
import { authorize, scopeOf } from "../authz/authorize";
import { actingAs, consumeCapacity } from "../capacity/consume";
import { devicesAvailable } from "../capacity/limits";
import type { AuthedCtx, Ctx } from "../context";
import { guard, runBatch } from "../db/batch";
import { devicePairings } from "../db/schema";
import { iso } from "../lib/clock";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { decodeCursor, toPage } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import * as repo from "./repo";

export const toOrganizationDto = (o: repo.DeviceOrganizationRow) => ({
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

function pageOf<T extends { id: string }, D>(rows: T[], limit: number, dto: (row: T) => D) {
  return toPage(rows, limit, dto, (r) => r.id);
}

/**
 * An organization outside what the caller may read or write answers 404, exactly like
 * another account's, so nothing leaks; one it may read but not change answers 403. A
 * devices:write grant that covers the organization is enough on its own.
 */
function requireWritable(ctx: AuthedCtx, organizationId: string, what: string) {
  const resource = { device_organization_id: organizationId };
  if (authorize(ctx.principal.grants, "devices:write", resource).allowed) return;
  if (!authorize(ctx.principal.grants, "devices:read", resource).allowed)
    throw new AppError("not_found", `No such ${what}.`);
  throw new AppError(
    "forbidden",
    "Your devices:write grant does not cover this device organization.",
  );
}

export async function listOrganizations(ctx: AuthedCtx, limit: number, cursor?: string) {
  const scope = scopeOf(ctx.principal.grants, "devices:read", "device_organization_ids");
  return pageOf(
    await repo.listOrganizations(
      ctx.db,
      ctx.principal.accountId,
      scope,
      limit,
      decodeCursor(cursor),
    ),
    limit,
    toOrganizationDto,
  );
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
  const event = buildEvent(ctx, {
    type: "device_organization.created",
    accountId: principal.accountId,
    actor: actorOf(principal),
    subject: { type: "device_organization", id: row.id },
    method: principal.method,
    metadata: { name },
  });
  await runBatch(db, [repo.insertOrganization(db, row), insertEvent(db, event)]);
  publish(ctx, [event]);
  return toOrganizationDto(row);
}

export async function listDevices(ctx: AuthedCtx, limit: number, cursor?: string) {
  const scope = scopeOf(ctx.principal.grants, "devices:read", "device_organization_ids");
  return pageOf(
    await repo.listDevices(ctx.db, ctx.principal.accountId, scope, limit, decodeCursor(cursor)),
    limit,
    toDeviceDto,
  );
}

/** Provisioning by an admin, or claiming a paired device: the device limit holds inside the account's object. */
export async function provisionDevice(
  ctx: AuthedCtx,
  input: { name: string; device_organization_id: string },
  pairing?: { code: string },
) {
  const { db, now, principal } = ctx;
  requireWritable(ctx, input.device_organization_id, "device organization");
  const org = await repo.findOrganization(db, principal.accountId, input.device_organization_id);
  if (!org) throw new AppError("not_found", "No such device organization.");
  const createdVia = pairing ? ("paired" as const) : ("provisioned" as const);
  const row = {
    id: newId("device"),
    accountId: principal.accountId,
    deviceOrganizationId: org.id,
    name: input.name,
    status: "active",
    createdVia,
    createdAt: now,
  };
  const event = buildEvent(ctx, {
    type: "device.added",
    accountId: principal.accountId,
    actor: actorOf(principal),
    subject: { type: "device", id: row.id },
    method: principal.method,
    metadata: { name: input.name, device_organization_id: org.id, created_via: createdVia },
  });
  await consumeCapacity(
    ctx,
    principal.accountId,
    "devices",
    [
      ...(pairing ? repo.claimPairing(pairing.code, principal.accountId, row.id, now) : []),
      guard("capacity_exceeded", devicesAvailable(principal.accountId)),
      guard("not_found", sql`EXISTS (SELECT 1 FROM device_organizations WHERE id = ${org.id})`),
      repo.insertDevice(db, row),
      insertEvent(db, event),
    ],
    actingAs(principal),
  );
  publish(ctx, [event]);
  return toDeviceDto(row);
}

export async function removeDevice(ctx: AuthedCtx, id: string) {
  const { db, principal } = ctx;
  const device = await repo.findDevice(db, principal.accountId, id);
  if (!device) throw new AppError("not_found", "No such device.");
  requireWritable(ctx, device.deviceOrganizationId, "device");
  const event = buildEvent(ctx, {
    type: "device.removed",
    accountId: principal.accountId,
    actor: actorOf(principal),
    subject: { type: "device", id },
    method: principal.method,
    metadata: { name: device.name, device_organization_id: device.deviceOrganizationId },
  });
  await runBatch(db, [repo.deleteDevice(db, principal.accountId, id), insertEvent(db, event)]);
  publish(ctx, [event]);
}

const PAIRING_TTL_MS = 10 * 60 * 1000;
// No 0/O, 1/I/L: a person reads the code off a screen and types it.
const CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

export function normalizePairingCode(code: string) {
  return code.toUpperCase().replace(/[\s-]/g, "");
}

/** A device asks for a code to show; it keeps the secret to prove later that it is that device. */
export async function startPairing(ctx: Ctx) {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const code = [...bytes].map((b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join("");
  const secret = randomSecret();
  const expiresAt = ctx.now + PAIRING_TTL_MS;
  await ctx.db.insert(devicePairings).values({
    code,
    secretHash: await sha256Hex(secret),
    createdAt: ctx.now,
    expiresAt,
    accountId: null,
    deviceId: null,
  });
  return {
    pairing_code: `${code.slice(0, 4)}-${code.slice(4)}`,
    device_secret: secret,
    expires_at: iso(expiresAt)!,
  };
}

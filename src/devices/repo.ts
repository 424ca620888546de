/** Data access for device organizations, devices and pairing codes. Account id first, always. */
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { guard } from "../db/batch";
import type { Database } from "../db/client";
import { deviceOrganizations, devicePairings, devices } from "../db/schema";

export type DeviceRow = typeof devices.$inferSelect;
export type DeviceOrganizationRow = typeof deviceOrganizations.$inferSelect;

const inScope = (
  column: typeof devices.deviceOrganizationId | typeof deviceOrganizations.id,
  scope: string[],
) => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(scope)}))`;

/** `scope` null = every organization; otherwise only these ids. */
export function listOrganizations(
  db: Database,
  accountId: string,
  scope: string[] | null,
  limit: number,
  after?: string,
) {
  return db
    .select()
    .from(deviceOrganizations)
    .where(
      and(
        eq(deviceOrganizations.accountId, accountId),
        scope ? inScope(deviceOrganizations.id, scope) : undefined,
        after ? gt(deviceOrganizations.id, after) : undefined,
      ),
    )
    .orderBy(asc(deviceOrganizations.id))
    .limit(limit + 1);
}

export async function findOrganization(db: Database, accountId: string, id: string) {
  const rows = await db
    .select()
    .from(deviceOrganizations)
    .where(and(eq(deviceOrganizations.accountId, accountId), eq(deviceOrganizations.id, id)));
  return rows[0] ?? null;
}

export function insertOrganization(db: Database, row: typeof deviceOrganizations.$inferInsert) {
  return db.insert(deviceOrganizations).values(row);
}

/** True while the organization still exists in the account (it may go while a device is added). */
export const organizationExists = (accountId: string, id: string) =>
  sql`EXISTS (SELECT 1 FROM device_organizations WHERE account_id = ${accountId} AND id = ${id})`;

export function listDevices(
  db: Database,
  accountId: string,
  scope: string[] | null,
  limit: number,
  after?: string,
) {
  return db
    .select()
    .from(devices)
    .where(
      and(
        eq(devices.accountId, accountId),
        scope ? inScope(devices.deviceOrganizationId, scope) : undefined,
        after ? gt(devices.id, after) : undefined,
      ),
    )
    .orderBy(asc(devices.id))
    .limit(limit + 1);
}

export async function findDevice(db: Database, accountId: string, id: string) {
  const rows = await db
    .select()
    .from(devices)
    .where(and(eq(devices.accountId, accountId), eq(devices.id, id)));
  return rows[0] ?? null;
}

/** A device by id: across accounts on purpose, for a pairing code that names its device. */
export async function findDeviceAcrossAccounts(db: Database, id: string) {
  const rows = await db.select().from(devices).where(eq(devices.id, id));
  return rows[0] ?? null;
}

/**
 * What a device's own credentials are checked against: the device, if it is still there,
 * and the secrets of every code issued for its id (so a removed device can be told apart
 * from a stranger). Across accounts on purpose: the id and secret are all a device presents.
 */
export async function findDeviceCredentialsAcrossAccounts(db: Database, id: string) {
  const pairingSecrets = sql<string>`(SELECT json_group_array(secret_hash) FROM device_pairings
    WHERE device_id = ${id})`;
  const [row] = await db
    .select({ device: devices, pairingSecrets })
    .from(sql`(SELECT 1) AS one`)
    .leftJoin(devices, eq(devices.id, id));
  return {
    device: row?.device ?? null,
    pairingSecrets: JSON.parse(row?.pairingSecrets ?? "[]") as string[],
  };
}

export function insertDevice(db: Database, row: typeof devices.$inferInsert) {
  return db.insert(devices).values(row);
}

export function updateDevice(
  db: Database,
  accountId: string,
  id: string,
  set: Partial<typeof devices.$inferInsert>,
) {
  return db
    .update(devices)
    .set(set)
    .where(and(eq(devices.accountId, accountId), eq(devices.id, id)));
}

export function deleteDevice(db: Database, accountId: string, id: string) {
  return db.delete(devices).where(and(eq(devices.accountId, accountId), eq(devices.id, id)));
}

/** A code a device shows until an admin claims it; it belongs to no account until then. */
export function insertPairing(db: Database, row: typeof devicePairings.$inferInsert) {
  return db.insert(devicePairings).values(row);
}

/**
 * An unclaimed, unexpired pairing by its code: across accounts on purpose, since a code
 * belongs to no account until it is claimed.
 */
export async function findOpenPairingAcrossAccounts(db: Database, code: string, now: number) {
  const rows = await db
    .select()
    .from(devicePairings)
    .where(
      and(
        eq(devicePairings.code, code),
        sql`${devicePairings.accountId} IS NULL`,
        gt(devicePairings.expiresAt, now),
      ),
    );
  return rows[0] ?? null;
}

/** Claims an unexpired, unclaimed pairing code for the account: a guard, then the claim. */
export function claimPairing(accountId: string, code: string, now: number) {
  return [
    guard(
      "pairing_code_invalid",
      sql`EXISTS (SELECT 1 FROM device_pairings
        WHERE code = ${code} AND account_id IS NULL AND expires_at > ${now})`,
    ),
    sql`UPDATE device_pairings SET account_id = ${accountId} WHERE code = ${code} AND account_id IS NULL`,
  ];
}

/**
 * Deletes up to `chunk` expired codes nobody claimed. Claimed ones stay: a removed
 * device's pairing rows are how it is told apart from a stranger. Across accounts on
 * purpose: unclaimed codes belong to no account.
 */
export function pruneUnclaimedPairingsAcrossAccounts(now: number, chunk: number) {
  return sql`DELETE FROM device_pairings WHERE code IN (SELECT code FROM device_pairings
    WHERE account_id IS NULL AND expires_at <= ${now} LIMIT ${chunk})`;
}

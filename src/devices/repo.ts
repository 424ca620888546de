/** Data access for device organizations and devices. Every function takes the account id first. */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { guard } from "../db/batch";
import type { Database } from "../db/client";
import { deviceOrganizations, devices } from "../db/schema";

export type DeviceRow = typeof devices.$inferSelect;
export type DeviceOrganizationRow = typeof deviceOrganizations.$inferSelect;

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
        scope ? inArray(deviceOrganizations.id, scope) : undefined,
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
        scope ? inArray(devices.deviceOrganizationId, scope) : undefined,
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

export function insertDevice(db: Database, row: typeof devices.$inferInsert) {
  return db.insert(devices).values(row);
}

export function deleteDevice(db: Database, accountId: string, id: string) {
  return db.delete(devices).where(and(eq(devices.accountId, accountId), eq(devices.id, id)));
}

/** Claims an unexpired, unclaimed pairing code for the account: a guard, then the claim. */
export function claimPairing(code: string, accountId: string, deviceId: string, now: number) {
  return [
    guard(
      "pairing_code_invalid",
      sql`EXISTS (SELECT 1 FROM device_pairings WHERE code = ${code} AND account_id IS NULL AND expires_at > ${now})`,
    ),
    sql`UPDATE device_pairings SET account_id = ${accountId}, device_id = ${deviceId} WHERE code = ${code} AND account_id IS NULL`,
  ];
}

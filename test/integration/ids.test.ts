/** Ids are TypeIDs (prefix + UUIDv7 in base32) that sort in the order they were made. */
import { fromString, toUUID } from "typeid-js";
import { expect, it } from "vitest";
import { idPattern, newId } from "../../src/lib/ids";

it("makes TypeIDs that typeid-js reads back as version-7 UUIDs of the current time", () => {
  const before = Date.now();
  const id = newId("user");
  expect(id).toMatch(idPattern("user"));
  const parsed = fromString(id, "usr");
  const uuid = toUUID(parsed);
  expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const ms = Number.parseInt(uuid.replaceAll("-", "").slice(0, 12), 16);
  expect(ms).toBeGreaterThanOrEqual(before);
  expect(ms).toBeLessThanOrEqual(Date.now());
});

it("sorts ids made in a row in the order they were made, and never repeats one", () => {
  const ids = Array.from({ length: 5000 }, () => newId("event"));
  expect([...ids].sort()).toEqual(ids);
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) expect(id).toMatch(idPattern("event"));
});

/**
 * Statements written once per isolate for the hottest paths (the principal of every
 * authenticated request): drizzle builds a query's SQL and its row mapping on every call,
 * which the profile showed as the largest share of a read's CPU. The SQL here is a constant
 * and a row is decoded by position with the columns' own drizzle decoders, so a schema
 * change still reaches it through the table definitions.
 */
import {
  getTableColumns,
  getTableName,
  type InferSelectModel,
  is,
  Param,
  Placeholder,
  sql,
  type Table,
} from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type Statement as BatchStatement, compile } from "./batch";
import type { Database } from "./client";
import type { PreparedQuery, Statement as ReadStatement } from "./read";

export interface Columns<T> {
  /** `alias."column" AS "aliasN", …`: unique names, so a batch's keyed rows keep every column. */
  list: string;
  width: number;
  decode(values: unknown[], at: number): T;
}

export function columnsOf<T extends Table>(table: T, alias: string): Columns<InferSelectModel<T>>;
/** Only the named columns: less for D1 to send on a path that needs no more. */
export function columnsOf<T extends Table, K extends keyof InferSelectModel<T> & string>(
  table: T,
  alias: string,
  keys: K[],
): Columns<Pick<InferSelectModel<T>, K>>;
export function columnsOf<T extends Table>(
  table: T,
  alias: string,
  keys?: string[],
): Columns<InferSelectModel<T>> {
  const columns = Object.entries(getTableColumns(table)).filter(
    ([key]) => !keys || keys.includes(key),
  );
  return {
    list: columns.map(([, c], i) => `${alias}."${c.name}" AS "${alias}${i}"`).join(", "),
    width: columns.length,
    decode(values, at) {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) {
        const [key, column] = columns[i]!;
        const value = values[at + i];
        out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
      }
      return out as InferSelectModel<T>;
    },
  };
}

/** A row's values in column order, from D1's keyed rows (a batch) or raw arrays. */
export function valuesOf(row: Record<string, unknown> | unknown[]): unknown[] {
  return Array.isArray(row) ? row : Object.values(row);
}

/**
 * A value a statement compiled once takes at each use, by name. Inside drizzle's `sql` and
 * its operators it stands where the value would, and is bound with that column's encoder.
 */
export const slot = (name: string) => sql.placeholder(name);

/** A value, or the slot a statement compiled once binds it to. */
export type Bindable<T> = T | Placeholder;

type Slot = { value: unknown } | { name: string; encode?: (value: unknown) => unknown };

/** Where each bound parameter of a compiled statement comes from. */
function slotsOf(params: unknown[]): Slot[] {
  return params.map((p): Slot => {
    if (is(p, Placeholder)) return { name: p.name };
    if (is(p, Param) && is(p.value, Placeholder)) {
      const encoder = p.encoder as { mapToDriverValue(value: unknown): unknown } | undefined;
      return { name: p.value.name, encode: encoder && ((v) => encoder.mapToDriverValue(v)) };
    }
    return { value: p };
  });
}

function bind(slots: Slot[], values: Record<string, unknown>): unknown[] {
  return slots.map((s) => {
    if ("value" in s) return s.value;
    const value = values[s.name];
    if (value === undefined) throw new Error(`No value for "${s.name}".`);
    return value === null || !s.encode ? value : s.encode(value);
  });
}

/**
 * A write compiled to SQL once per isolate, for the statements every invitation and every
 * streamed event run: drizzle builds SQL by walking the statement's parts on each call, which
 * the profile showed as the largest share of an invitation's CPU. Each call binds the values
 * the statement's `slot`s name; the statement is still written with drizzle's `sql` and
 * operators against the schema's tables.
 */
export function once<V extends Record<string, unknown>>(
  build: () => BatchStatement,
): (values: V) => BatchStatement {
  let compiled: { sql: string; slots: Slot[] } | undefined;
  return (values) => {
    if (!compiled) {
      const { sql: text, params } = compile(build());
      compiled = { sql: text, slots: slotsOf(params) };
    }
    const query = { sql: compiled.sql, params: bind(compiled.slots, values) };
    return { toSQL: () => query };
  };
}

/**
 * A drizzle read compiled once per database client: its SQL, and the row mapping drizzle
 * made for it, reused by every call with that call's values bound.
 */
export function onceRead<V extends Record<string, unknown>, Q extends BatchItem<"sqlite">>(
  build: (db: Database) => Q,
): (db: Database, values: V) => ReadStatement<Q["_"]["result"]> {
  const made = new WeakMap<Database, { sql: string; slots: Slot[]; prepared: PreparedQuery }>();
  return (db, values) => {
    let compiled = made.get(db);
    if (!compiled) {
      const prepared = (build(db) as unknown as { _prepare(): PreparedQuery })._prepare();
      const { sql: text, params } = prepared.getQuery();
      compiled = { sql: text, slots: slotsOf(params), prepared };
      made.set(db, compiled);
    }
    const { prepared } = compiled;
    return {
      statement: db.$client.prepare(compiled.sql).bind(...bind(compiled.slots, values)),
      map: (result) => prepared.mapResult(result, true) as Q["_"]["result"],
    };
  };
}

/**
 * The insert of a whole row, written once per table: every column named, each value bound
 * with its column's encoder. The row must carry every column (null where empty).
 */
export function insertRow<T extends Table>(table: T) {
  const columns = Object.entries(getTableColumns(table));
  const text = `INSERT INTO "${getTableName(table)}" (${columns
    .map(([, c]) => `"${c.name}"`)
    .join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
  return (row: InferSelectModel<T>): BatchStatement => {
    const values = row as Record<string, unknown>;
    const params = columns.map(([key, column]) => {
      const value = values[key];
      if (value === undefined) throw new Error(`No value for "${key}".`);
      return value === null ? null : column.mapToDriverValue(value);
    });
    const query = { sql: text, params };
    return { toSQL: () => query };
  };
}

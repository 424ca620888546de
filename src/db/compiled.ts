/**
 * Statements written once per isolate for the hottest paths (the principal of every
 * authenticated request): drizzle builds a query's SQL and its row mapping on every call,
 * which the profile showed as the largest share of a read's CPU. The SQL here is a constant
 * and a row is decoded by position with the columns' own drizzle decoders, so a schema
 * change still reaches it through the table definitions.
 */
import { getTableColumns, type InferSelectModel, type Table } from "drizzle-orm";

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

/** Opaque list cursors: the last row's sort key, base64url-encoded. */
import { AppError } from "./errors";

function encodeCursor(key: string): string {
  return btoa(key).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    if (/^[\x21-\x7e]{1,200}$/.test(key)) return key;
  } catch {
    // fall through
  }
  throw new AppError("validation_failed", "The cursor is not valid.", {
    errors: [
      { path: "cursor", code: "invalid_cursor", message: "Not a cursor returned by this API." },
    ],
  });
}

/**
 * One page from `limit + 1` rows: the extra row only says whether there is a next page,
 * whose cursor is the last shown row's sort key.
 */
export function toPage<T, D>(
  rows: T[],
  limit: number,
  dto: (row: T) => D,
  keyOf: (row: T) => string,
) {
  const page = rows.slice(0, limit);
  return {
    data: page.map(dto),
    next_cursor: rows.length > limit ? encodeCursor(keyOf(page.at(-1)!)) : null,
  };
}

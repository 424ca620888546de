/**
 * A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is taken for a
 * formula by spreadsheet programs, so an exported user agent or name could run one on the
 * reader's machine. A leading `'` makes it plain text (the OWASP advice for CSV injection).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function spreadsheetSafe(value: string | null | undefined): string {
  if (value === null || value === undefined) return "";
  return FORMULA_START.test(value) ? `'${value}` : value;
}

// The local development variables from the committed .dev.vars.example, for scripts and the
// end-to-end harness that start the worker without `wrangler dev` reading .dev.vars.
import { readFileSync } from "node:fs";
import path from "node:path";

export const devVarsExample = path.resolve(import.meta.dirname, "..", ".dev.vars.example");

/** NAME=value lines; blank lines and # comments skipped. */
export function readDevVars(file = devVarsExample) {
  const vars = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

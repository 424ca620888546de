/** Global setup of the e2e suite: the console's browser tests need a build of it. */
import { buildConsole, consoleBuilt } from "../../scripts/console-build.mjs";

export default function setup() {
  // `npm test` builds first; a direct run of one e2e file builds only when nothing is there.
  if (!consoleBuilt()) buildConsole();
}

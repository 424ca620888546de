import type { Ctx } from "../context";

/** The console's sign-in page, where the server pages send people once they are done. */
export const consoleSignIn = (ctx: Pick<Ctx, "config">) => appLink(ctx, "/sign-in");

/** A link into this service for a mail or a page: `APP_URL` + path, with a query. */
export function appLink(
  ctx: Pick<Ctx, "config">,
  path: string,
  query: Record<string, string> = {},
) {
  // APP_URL has no trailing slash (the configuration strips it), and every path here is ours:
  // joining strings gives what URL resolution would, without parsing a URL per mail.
  const search = new URLSearchParams(query).toString();
  return `${ctx.config.appUrl}/${path.replace(/^\//, "")}${search ? `?${search}` : ""}`;
}

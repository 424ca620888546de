import type { Ctx } from "../context";

/** The console's sign-in page, where the server pages send people once they are done. */
export const consoleSignIn = (ctx: Pick<Ctx, "config">) => appLink(ctx, "/sign-in");

/** A link into this service for a mail or a page: `APP_URL` + path, with a query. */
export function appLink(
  ctx: Pick<Ctx, "config">,
  path: string,
  query: Record<string, string> = {},
) {
  const url = new URL(path.replace(/^\//, ""), `${ctx.config.appUrl}/`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.toString();
}

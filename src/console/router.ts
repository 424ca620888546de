/** History-API routing: the worker answers every console path with index.html. */
import { store, useStore } from "./store";

const path = store(location.pathname + location.search);

window.addEventListener("popstate", () => path.set(location.pathname + location.search));

export function navigate(to: string, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.set(to);
  window.scrollTo(0, 0);
}

export function useLocation() {
  const full = useStore(path);
  const url = new URL(full, location.origin);
  return { pathname: url.pathname, search: url.searchParams };
}

/** Matches `/users/:id` style patterns; answers the parameters or null. */
export function match(pattern: string, pathname: string): Record<string, string> | null {
  const a = pattern.split("/");
  const b = pathname.replace(/\/$/, "").split("/");
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.startsWith(":")) params[a[i]!.slice(1)] = decodeURIComponent(b[i]!);
    else if (a[i] !== b[i]) return null;
  }
  return params;
}

/**
 * The console's only way to the service: the public HTTP API with a bearer access token
 * kept in memory. The refresh token never reaches script: it lives in an httpOnly cookie
 * that only /v1/auth/cookie/* can read, and a 401 is answered by one refresh and a retry.
 */

export interface FieldProblem {
  path: string;
  code: string;
  message: string;
}

/** A problem+json answer (RFC 9457), kept whole so screens can show it near its cause. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldProblem[],
    readonly body: Record<string, any>,
  ) {
    super(detail);
  }
}

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
let onSessionLost: () => void = () => {};

export function setAccessToken(token: string | null) {
  accessToken = token;
}

export function whenSessionLost(handler: () => void) {
  onSessionLost = handler;
}

async function problemOf(res: Response): Promise<ApiError> {
  let body: Record<string, any> = {};
  try {
    body = await res.json();
  } catch {
    // not JSON: a bare status
  }
  return new ApiError(
    res.status,
    body.code ?? `http_${res.status}`,
    body.detail ?? `The service answered ${res.status}.`,
    Array.isArray(body.errors) ? body.errors : [],
    body,
  );
}

/** The cookie routes take a JSON body, even an empty one: that is their CSRF defence. */
export async function cookieCall<T>(path: string, body: unknown = {}): Promise<T> {
  const res = await fetch(`/v1/auth/cookie${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  if (!res.ok) throw await problemOf(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** One refresh at a time: parallel 401s wait for the same one (a second would be reuse). */
export function refreshAccess(): Promise<boolean> {
  refreshing ??= cookieCall<{ access_token: string }>("/refresh")
    .then((r) => {
      accessToken = r.access_token;
      return true;
    })
    .catch(() => {
      accessToken = null;
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export interface CallOptions {
  body?: unknown;
  /** A body sent as it is (the CSV import), with its content type. */
  raw?: { body: BodyInit; type: string };
}

async function send(method: string, path: string, opts: CallOptions): Promise<Response> {
  const headers: Record<string, string> = {};
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  let body: BodyInit | undefined;
  if (opts.raw) {
    headers["content-type"] = opts.raw.type;
    body = opts.raw.body;
  } else if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  return fetch(path, { method, headers, body, credentials: "omit" });
}

async function authorized(method: string, path: string, opts: CallOptions): Promise<Response> {
  let res = await send(method, path, opts);
  if (res.status === 401) {
    if (await refreshAccess()) res = await send(method, path, opts);
    if (res.status === 401) onSessionLost();
  }
  return res;
}

export async function api<T = any>(method: string, path: string, opts: CallOptions = {}) {
  const res = await authorized(method, path, opts);
  if (!res.ok) throw await problemOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);

/** Fetches with the token (a link cannot carry it) and hands the file to the browser. */
export async function download(path: string, fallbackName: string) {
  const res = await authorized("GET", path, {});
  if (!res.ok) throw await problemOf(res);
  const disposition = res.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export function query(params: Record<string, string | number | undefined | null>) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

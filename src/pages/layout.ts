/**
 * Small, accessible, server-rendered pages (no framework, no script). The link's token is
 * in the URL, so pages send no referrer and allow no framing or outside resources.
 */
import type { Context } from "hono";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

const STYLE =
  raw(`body{font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f6f7f9;margin:0}
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin-top:1rem}
input{width:100%;box-sizing:border-box;padding:.55rem;font:inherit;border:1px solid #888;border-radius:4px}
input[aria-invalid=true]{border-color:#b91c1c}.hint{font-size:.875rem;color:#555;margin:.25rem 0 0}
.error{color:#b91c1c;font-size:.9rem;margin:.25rem 0 0}.alert{background:#fef2f2;border:1px solid #b91c1c;padding:.75rem;border-radius:4px}
button,.button{display:inline-block;margin-top:1.5rem;background:#1d4ed8;color:#fff;border:0;padding:.65rem 1.2rem;font:inherit;border-radius:4px;text-decoration:none;cursor:pointer}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}`);

export function page(
  c: Context,
  status: 200 | 400 | 404 | 409 | 410 | 422,
  title: string,
  body: Fragment,
) {
  c.header(
    "content-security-policy",
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  c.header("referrer-policy", "no-referrer");
  c.header("cache-control", "no-store");
  c.header("x-content-type-options", "nosniff");
  return c.html(
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`,
    status,
  );
}

interface Field {
  name: string;
  label: string;
  type?: string;
  value?: string;
  autocomplete?: string;
  hint?: string;
  error?: string;
}

export function field(f: Field) {
  const described = [f.hint ? `${f.name}-hint` : "", f.error ? `${f.name}-error` : ""]
    .filter(Boolean)
    .join(" ");
  return html`<label for="${f.name}">${f.label}</label>
<input id="${f.name}" name="${f.name}" type="${f.type ?? "text"}" value="${f.value ?? ""}" autocomplete="${f.autocomplete ?? "off"}" required
 ${described ? html`aria-describedby="${described}"` : ""} ${f.error ? html`aria-invalid="true"` : ""}>
${f.hint ? html`<p class="hint" id="${f.name}-hint">${f.hint}</p>` : ""}${f.error ? html`<p class="error" id="${f.name}-error">${f.error}</p>` : ""}`;
}

export function alert(message: string | undefined) {
  return message ? html`<div class="alert" role="alert">${message}</div>` : "";
}

/**
 * The posted form's text fields, or null when the body cannot be read as a form (a
 * multipart body without a boundary, a truncated part): the caller answers 400, not 500.
 */
export async function readForm(c: Context): Promise<Record<string, string> | null> {
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody();
  } catch {
    return null;
  }
  return Object.fromEntries(
    Object.entries(body).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])),
  );
}

/** The answer to a form body that could not be read. */
export function unreadableForm(c: Context) {
  return page(
    c,
    400,
    "The form could not be read",
    html`<h1>The form could not be read</h1>
<p role="alert">Open the link from your email again and send the form from there.</p>`,
  );
}

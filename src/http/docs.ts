/**
 * `GET /docs`: a readable, self-contained page rendered from the OpenAPI document (no CDN
 * script, so it works offline and under a strict CSP).
 */
import { html, raw } from "hono/html";
import { ERRORS } from "../lib/errors";

const STYLE = [
  "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}",
  "code{font-size:.95em}article{border-top:1px solid #ddd;padding:.25rem 0}h3{margin:.5rem 0 0;font-size:1rem}",
  ".codes span{display:inline-block;background:#eef;border-radius:3px;padding:0 .4em;margin-right:.2em;font-size:.85em}",
  "table{border-collapse:collapse}td,th{border-top:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}",
  "tr:target{background:#fff7d6}",
].join("");

interface Operation {
  summary?: string;
  tags?: string[];
  security?: unknown[];
  responses?: Record<string, { description?: string }>;
}

export function docsPage(doc: { paths?: object }) {
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, methods] of Object.entries(
    (doc.paths ?? {}) as Record<string, Record<string, Operation>>,
  )) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? "Other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method: method.toUpperCase(), path, op }]);
    }
  }
  const sections = [...byTag].map(
    ([tag, ops]) =>
      html`<section><h2>${tag}</h2>${ops.map(
        ({
          method,
          path,
          op,
        }) => html`<article><h3><code>${method} ${path}</code></h3><p>${op.summary ?? ""}</p>
        <p class="codes">${Object.entries(op.responses ?? {}).map(([status, r]) => html`<span title="${r.description ?? ""}">${status}</span> `)}</p></article>`,
      )}</section>`,
  );
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>User Management API</title><style>${raw(STYLE)}</style></head>
<body><h1>User Management API</h1><p>The machine-readable contract is at <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are <code>application/problem+json</code> with a stable <code>code</code>: see <a href="/docs/errors">every error code</a>.</p>${sections}</body></html>`;
}

/** `GET /docs/errors`: every error code with its status and meaning; problem `type`s link here. */
export function errorsPage() {
  const rows = Object.entries(ERRORS).map(
    ([code, [status, title, meaning]]) =>
      html`<tr id="${code}"><td><code>${code}</code></td><td>${status}</td><td>${title}</td><td>${meaning}</td></tr>`,
  );
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Error codes · User Management API</title><style>${raw(STYLE)}</style></head>
<body><h1>Error codes</h1><p>Every error is <code>application/problem+json</code>: <code>type</code> links to its row below, <code>code</code> is stable, <code>detail</code> says what happened, and validation errors list each field in <code>errors[]</code>. Back to the <a href="/docs">API reference</a>.</p>
<table><thead><tr><th>code</th><th>status</th><th>title</th><th>meaning</th></tr></thead><tbody>${rows}</tbody></table></body></html>`;
}

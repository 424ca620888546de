/**
 * `GET /docs`: a readable, self-contained page rendered from the OpenAPI document (no CDN
 * script, so it works offline and under a strict CSP).
 */
import { html, raw } from "hono/html";

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
<title>User Management API</title><style>${raw(
    "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}code{font-size:.95em}article{border-top:1px solid #ddd;padding:.25rem 0}h3{margin:.5rem 0 0;font-size:1rem}.codes span{display:inline-block;background:#eef;border-radius:3px;padding:0 .4em;margin-right:.2em;font-size:.85em}",
  )}</style></head>
<body><h1>User Management API</h1><p>The machine-readable contract is at <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are <code>application/problem+json</code> with a stable <code>code</code>.</p>${sections}</body></html>`;
}

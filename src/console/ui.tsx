/** The console's building blocks: fields with their errors, buttons with progress, tables, states. */
import type { Child } from "hono/jsx";
import { useState } from "hono/jsx/dom";
import { ApiError } from "./api";
import { navigate } from "./router";

export const inputValue = (e: Event) => (e.target as HTMLInputElement).value;
const checkedOf = (e: Event) => (e.target as HTMLInputElement).checked;

/** Which field a problem names: `errors[].path`, or the field a code is about. */
const CODE_FIELDS: Record<string, string> = {
  email_taken: "email",
  invitation_pending: "email",
  invalid_current_password: "current_password",
  group_name_taken: "name",
  sso_domain_taken: "domains",
  sso_issuer_invalid: "issuer",
};

/** Field-level messages of a problem, keyed by the body's field path (first segment too). */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const e of err.errors) {
    out[e.path] ??= e.message;
    out[e.path.split(".")[0]!] ??= e.message;
  }
  const field = CODE_FIELDS[err.code];
  if (field && !out[field]) out[field] = err.detail;
  return out;
}

/** Whom to ask when the plan's limit is reached, from the capacity problem's `contact`. */
function capacityMessage(err: ApiError): string {
  const b = err.body;
  const what = b.limit === "devices" ? "devices" : "users";
  const contact = b.contact?.type === "reseller" ? `your reseller, ${b.contact.name}` : "support";
  return `Your ${b.plan ?? ""} plan allows ${b.limit_value ?? "no more"} ${what}, and all of them are in use. To raise the limit, contact ${contact}.`;
}

/** The words for a problem that is not about one field. */
export function problemText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "capacity_exceeded") return capacityMessage(err);
    if (err.code === "feature_not_in_plan") return err.detail;
    if (err.code === "forbidden" || err.code === "permission_not_held")
      return `You may not do this: ${err.detail}`;
    return err.detail;
  }
  return "The service could not be reached. Check the connection and try again.";
}

/**
 * The error shown above a form's buttons: only what no field already shows, so the
 * message is where its cause is.
 */
export function formProblem(err: unknown, fields: string[]): string | null {
  if (!err) return null;
  const byField = fieldErrors(err);
  if (fields.some((f) => byField[f]) && err instanceof ApiError && err.errors.length > 0) {
    const unplaced = err.errors.filter((e) => !fields.includes(e.path.split(".")[0]!));
    if (unplaced.length === 0) return null;
    return unplaced.map((e) => `${e.path}: ${e.message}`).join(" ");
  }
  if (err instanceof ApiError && CODE_FIELDS[err.code] && fields.includes(CODE_FIELDS[err.code]!))
    return null;
  return problemText(err);
}

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onValue: (v: string) => void;
  error?: string;
  type?: string;
  hint?: string;
  required?: boolean;
  autocomplete?: string;
  placeholder?: string;
  disabled?: boolean;
}

export function Field(p: FieldProps) {
  const described = [p.hint ? `${p.id}-hint` : "", p.error ? `${p.id}-error` : ""]
    .filter(Boolean)
    .join(" ");
  return (
    <div class="field">
      <label for={p.id}>{p.label}</label>
      <input
        id={p.id}
        name={p.id}
        type={p.type ?? "text"}
        value={p.value}
        required={p.required}
        disabled={p.disabled}
        placeholder={p.placeholder}
        autocomplete={p.autocomplete}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={described || undefined}
        onInput={(e: Event) => p.onValue(inputValue(e))}
      />
      {p.hint && (
        <p class="hint" id={`${p.id}-hint`}>
          {p.hint}
        </p>
      )}
      {p.error && (
        <p class="field-error" id={`${p.id}-error`}>
          {p.error}
        </p>
      )}
    </div>
  );
}

export function Check(p: {
  id: string;
  label: Child;
  checked: boolean;
  onChecked: (v: boolean) => void;
  disabled?: boolean;
}) {
  return (
    <div class="check">
      <input
        id={p.id}
        type="checkbox"
        checked={p.checked}
        disabled={p.disabled}
        onChange={(e: Event) => p.onChecked(checkedOf(e))}
      />
      <label for={p.id}>{p.label}</label>
    </div>
  );
}

export function Alert({ children, kind = "error" }: { children: Child; kind?: "error" | "ok" }) {
  return kind === "error" ? (
    <div class="alert alert-error" role="alert">
      {children}
    </div>
  ) : (
    <div class="alert alert-ok" role="status">
      {children}
    </div>
  );
}

export function Busy({ label }: { label: string }) {
  return (
    <span class="busy" role="status">
      <span class="spinner" aria-hidden="true" />
      {label}
    </span>
  );
}

export function Empty({ title, children }: { title: string; children?: Child }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children && <p>{children}</p>}
    </div>
  );
}

export function Link({
  href,
  children,
  class: cls,
}: {
  href: string;
  children: Child;
  class?: string;
}) {
  return (
    <a
      href={href}
      class={cls}
      onClick={(e: MouseEvent) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export function PageHeader({ title, children }: { title: string; children?: Child }) {
  return (
    <header class="page-header">
      <h1>{title}</h1>
      {children && <div class="page-actions">{children}</div>}
    </header>
  );
}

/** A secret the service shows once: visible, selectable, with a copy button. */
export function OneTimeSecret({
  label,
  value,
  note,
}: {
  label: string;
  value: string;
  note?: string;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret" role="status">
      <p>
        <strong>{label}</strong> — {note ?? "shown only this once; copy it now."}
      </p>
      <div class="secret-row">
        <code class="secret-value">{value}</code>
        <button
          type="button"
          class="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(value);
              setCopied(true);
            } catch {
              setCopied(false);
            }
          }}
        >
          {copied ? "Copied" : `Copy ${label.toLowerCase()}`}
        </button>
      </div>
    </div>
  );
}

export function CopyText({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret-row">
      <code class="secret-value">{value}</code>
      <button
        type="button"
        class="button"
        onClick={async () => {
          await navigator.clipboard.writeText(value).catch(() => {});
          setCopied(true);
        }}
      >
        {copied ? "Copied" : `Copy ${label}`}
      </button>
    </div>
  );
}

export function Pager(p: {
  hasPrevious: boolean;
  next: string | null;
  onPrevious: () => void;
  onNext: () => void;
}) {
  if (!p.hasPrevious && !p.next) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="button" disabled={!p.hasPrevious} onClick={p.onPrevious}>
        Previous page
      </button>
      <button type="button" class="button" disabled={!p.next} onClick={p.onNext}>
        Next page
      </button>
    </nav>
  );
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

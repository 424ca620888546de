/** Webhooks: endpoints, their one-time signing secrets, pausing and rotation. */
import { useState } from "hono/jsx/dom";
import { api, get, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import type { Account } from "../session";
import {
  Alert,
  Busy,
  Empty,
  Field,
  fieldErrors,
  formProblem,
  OneTimeSecret,
  PageHeader,
  problemText,
  StatusBadge,
} from "../ui";

interface Endpoint {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  status: "enabled" | "disabled";
  paused: boolean;
  consecutive_failures: number;
}

export function WebhooksScreen({ account }: { account: Account }) {
  const hooks = useLoad(() => get<Page<Endpoint>>("/v1/webhooks?limit=100"), []);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("*");
  const [description, setDescription] = useState("");
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const action = useAction();
  const fields = fieldErrors(action.error);
  const feature = account.features.includes("webhooks");
  const create = async (e: Event) => {
    e.preventDefault();
    const body = {
      url,
      events: events.split(/[\s,]+/).filter(Boolean),
      ...(description ? { description } : {}),
    };
    const done = await action.run(() =>
      api<Endpoint & { secret: string }>("POST", "/v1/webhooks", { body }),
    );
    if (done) {
      setSecret({ label: "Signing secret", value: done.secret });
      setUrl("");
      setDescription("");
      hooks.reload();
    }
  };
  const act = async (fn: () => Promise<unknown>) => {
    if (await action.run(async () => (await fn()) ?? true)) hooks.reload();
  };
  const rows = hooks.data?.data ?? [];
  return (
    <section>
      <p class="crumbs">Settings /</p>
      <PageHeader title="Webhooks" />
      {!feature && (
        <Alert>
          Webhooks are not in the {account.plan} plan; they are in business and enterprise. Existing
          endpoints are paused.
        </Alert>
      )}
      {secret && <OneTimeSecret label={secret.label} value={secret.value} />}
      {action.error && !formProblem(action.error, ["url", "events", "description"]) ? null : null}
      {hooks.error ? <Alert>{problemText(hooks.error)}</Alert> : null}
      {hooks.loading && !hooks.data ? (
        <Busy label="Loading endpoints…" />
      ) : rows.length === 0 ? (
        <Empty title="No webhook endpoints">Add one below to receive the account's events.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((h) => (
                <tr key={h.id}>
                  <td>
                    <code>{h.url}</code>
                    {h.description && <div class="muted small">{h.description}</div>}
                  </td>
                  <td>{h.events.join(", ")}</td>
                  <td>
                    <StatusBadge status={h.paused ? "paused" : h.status} />
                    {h.consecutive_failures > 0 && (
                      <div class="muted small">{h.consecutive_failures} failures</div>
                    )}
                  </td>
                  <td class="actions">
                    <button
                      type="button"
                      class="button small"
                      disabled={!feature}
                      onClick={() =>
                        act(() =>
                          api("PATCH", `/v1/webhooks/${h.id}`, {
                            body: { status: h.status === "enabled" ? "disabled" : "enabled" },
                          }),
                        )
                      }
                    >
                      {h.status === "enabled" ? "Disable" : "Enable"}
                    </button>
                    <button
                      type="button"
                      class="button small"
                      disabled={!feature}
                      onClick={() =>
                        act(async () => {
                          const r = await api<{ secret: string }>(
                            "POST",
                            `/v1/webhooks/${h.id}/rotate-secret`,
                          );
                          setSecret({ label: "New signing secret", value: r.secret });
                        })
                      }
                    >
                      Rotate secret
                    </button>
                    <button
                      type="button"
                      class="button small danger"
                      disabled={!feature}
                      aria-label={`Delete endpoint ${h.url}`}
                      onClick={() =>
                        confirm(`Delete the endpoint ${h.url}?`) &&
                        act(() => api("DELETE", `/v1/webhooks/${h.id}`))
                      }
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {feature && (
        <section class="card" aria-labelledby="new-hook-title">
          <h2 id="new-hook-title">Add an endpoint</h2>
          <form onSubmit={create} noValidate>
            <Field
              id="hook-url"
              label="URL"
              type="url"
              value={url}
              onValue={setUrl}
              error={fields.url}
              placeholder="https://example.com/hooks"
            />
            <Field
              id="hook-events"
              label="Events"
              value={events}
              onValue={setEvents}
              error={fields.events}
              hint="Comma-separated event types, or * for all."
            />
            <Field
              id="hook-description"
              label="Description"
              value={description}
              onValue={setDescription}
              error={fields.description}
            />
            {formProblem(action.error, ["url", "events", "description"]) && (
              <Alert>{formProblem(action.error, ["url", "events", "description"])}</Alert>
            )}
            <div class="form-actions">
              <button type="submit" class="button primary" disabled={action.busy}>
                Add endpoint
              </button>
              {action.busy && <Busy label="Saving…" />}
            </div>
          </form>
        </section>
      )}
    </section>
  );
}

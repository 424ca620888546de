/** Activity: the filtered, paged log, its export, and the inactive-users report. */
import { useState } from "hono/jsx/dom";
import { download, get, type Page, query } from "../api";
import { useAction, usePaged } from "../hooks";
import { type ActivityEvent, fullName, type User } from "../model";
import { useLocation } from "../router";
import {
  Alert,
  Busy,
  Empty,
  Field,
  inputValue,
  Link,
  PageHeader,
  Pager,
  problemText,
  when,
} from "../ui";

const METHODS = ["password", "sso", "api_token", "scim"];

function describe(e: ActivityEvent): string {
  const m = e.metadata ?? {};
  if (e.type === "user.groups_changed" && Array.isArray(m.to))
    return `groups now: ${(m.to as string[]).join(", ")}`;
  if (m.reason) return String(m.reason);
  return "";
}

export function ActivityTable({ events }: { events: ActivityEvent[] }) {
  if (events.length === 0)
    return <Empty title="No activity">Nothing matches; widen the filters.</Empty>;
  return (
    <div class="table-wrap">
      <table class="activity">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Event</th>
            <th scope="col">Actor</th>
            <th scope="col">Subject</th>
            <th scope="col">Method</th>
            <th scope="col">IP</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>{when(e.occurred_at)}</td>
              <td>
                <code>{e.type}</code>
                {describe(e) && <div class="muted small">{describe(e)}</div>}
              </td>
              <td>
                {e.actor.type === "user" && e.actor.id ? (
                  <Link href={`/users/${e.actor.id}`}>{e.actor.id}</Link>
                ) : (
                  e.actor.type
                )}
              </td>
              <td>
                {e.subject?.type === "user" ? (
                  <Link href={`/users/${e.subject.id}`}>{e.subject.id}</Link>
                ) : (
                  (e.subject?.id ?? "—")
                )}
              </td>
              <td>{e.method ?? "—"}</td>
              <td>{e.ip ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface Filters {
  user_id: string;
  type: string;
  method: string;
  ip: string;
  since: string;
  until: string;
}

const toIso = (local: string) => (local ? new Date(local).toISOString() : "");

export function ActivityScreen() {
  const { search } = useLocation();
  const initial: Filters = {
    user_id: search.get("user_id") ?? "",
    type: search.get("type") ?? "",
    method: "",
    ip: "",
    since: "",
    until: "",
  };
  const [draft, setDraft] = useState<Filters>(initial);
  const [filters, setFilters] = useState<Filters>(initial);
  const params = {
    user_id: filters.user_id,
    type: filters.type,
    method: filters.method,
    ip: filters.ip,
    since: toIso(filters.since),
    until: toIso(filters.until),
  };
  const events = usePaged(
    (cursor) => get<Page<ActivityEvent>>(`/v1/activity${query({ ...params, limit: 25, cursor })}`),
    [JSON.stringify(filters)],
  );
  const exporting = useAction();
  const set = (k: keyof Filters) => (v: string) => setDraft({ ...draft, [k]: v });
  return (
    <section>
      <PageHeader title="Activity">
        <button
          type="button"
          class="button"
          disabled={exporting.busy}
          onClick={() =>
            exporting.run(() =>
              download(`/v1/activity/export${query({ ...params, format: "csv" })}`, "activity.csv"),
            )
          }
        >
          Export CSV
        </button>
        <button
          type="button"
          class="button"
          disabled={exporting.busy}
          onClick={() =>
            exporting.run(() =>
              download(
                `/v1/activity/export${query({ ...params, format: "ndjson" })}`,
                "activity.ndjson",
              ),
            )
          }
        >
          Export NDJSON
        </button>
        {exporting.busy && <Busy label="Exporting…" />}
      </PageHeader>
      {exporting.error ? <Alert>{problemText(exporting.error)}</Alert> : null}
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e: Event) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <Field
          id="f-user"
          label="User id"
          value={draft.user_id}
          onValue={set("user_id")}
          placeholder="usr_…"
        />
        <Field
          id="f-type"
          label="Type"
          value={draft.type}
          onValue={set("type")}
          placeholder="e.g. user.* or auth.login.failed"
        />
        <div class="field">
          <label for="f-method">Method</label>
          <select
            id="f-method"
            value={draft.method}
            onChange={(e: Event) => set("method")(inputValue(e))}
          >
            <option value="">Any</option>
            {METHODS.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </div>
        <Field id="f-ip" label="IP" value={draft.ip} onValue={set("ip")} />
        <Field
          id="f-since"
          label="From"
          type="datetime-local"
          value={draft.since}
          onValue={set("since")}
        />
        <Field
          id="f-until"
          label="Until"
          type="datetime-local"
          value={draft.until}
          onValue={set("until")}
        />
        <div class="form-actions">
          <button type="submit" class="button primary">
            Apply filters
          </button>
        </div>
      </form>
      {events.error ? <Alert>{problemText(events.error)}</Alert> : null}
      {events.loading && !events.data ? (
        <Busy label="Loading activity…" />
      ) : (
        <ActivityTable events={events.rows} />
      )}
      <Pager
        hasPrevious={events.hasPrevious}
        next={events.next}
        onPrevious={events.previousPage}
        onNext={events.nextPage}
      />
      <InactiveUsers />
    </section>
  );
}

function InactiveUsers() {
  const [days, setDays] = useState("90");
  const [shown, setShown] = useState("90");
  const report = usePaged(
    (cursor) =>
      get<Page<User & { never_logged_in: boolean }>>(
        `/v1/reports/inactive-users${query({ days: shown, limit: 25, cursor })}`,
      ),
    [shown],
  );
  return (
    <section class="card wide" aria-labelledby="inactive-title">
      <h2 id="inactive-title">Inactive users</h2>
      <form
        class="toolbar"
        onSubmit={(e: Event) => {
          e.preventDefault();
          setShown(days);
        }}
      >
        <div class="field inline">
          <label for="inactive-days">No login for (days)</label>
          <input
            id="inactive-days"
            type="number"
            min={1}
            max={3650}
            value={days}
            onInput={(e: Event) => setDays(inputValue(e))}
          />
        </div>
        <button type="submit" class="button">
          Show report
        </button>
      </form>
      {report.error ? <Alert>{problemText(report.error)}</Alert> : null}
      {report.loading && !report.data ? (
        <Busy label="Loading the report…" />
      ) : report.rows.length === 0 ? (
        <Empty title="Everyone signed in recently">No active user has been away that long.</Empty>
      ) : (
        <ul class="plain-list">
          {report.rows.map((u) => (
            <li key={u.id}>
              <Link href={`/users/${u.id}`}>{fullName(u) || u.email}</Link>{" "}
              <span class="muted">{u.email}</span> —{" "}
              {u.never_logged_in ? "never signed in" : `last ${when(u.last_login_at)}`}
            </li>
          ))}
        </ul>
      )}
      <Pager
        hasPrevious={report.hasPrevious}
        next={report.next}
        onPrevious={report.previousPage}
        onNext={report.nextPage}
      />
    </section>
  );
}

/** Settings → User Invites: invite or create users, the pending invitations, CSV import. */
import { useState } from "hono/jsx/dom";
import { api, get, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { type Group, useGroups } from "../model";
import { useLocation } from "../router";
import { can, type Me } from "../session";
import {
  Alert,
  Busy,
  Check,
  Empty,
  Field,
  fieldErrors,
  formProblem,
  PageHeader,
  problemText,
  StatusBadge,
  when,
} from "../ui";

interface Invitation {
  id: string;
  email: string;
  group_ids: string[];
  status: string;
  expires_at: string;
  created_at: string;
  email_delivery?: string;
}

export function InvitesScreen({ me }: { me: Me }) {
  const { search } = useLocation();
  const [open, setOpen] = useState(search.get("invite") === "1");
  const [notice, setNotice] = useState<string | null>(null);
  const mayInvite = can(me, "users:invite");
  const mayCreate = can(me, "users:write");
  const groups = useGroups(can(me, "groups:read"));
  const pending = useLoad(
    () =>
      mayInvite
        ? get<Page<Invitation>>("/v1/invitations?status=pending&limit=100")
        : Promise.resolve({ data: [], next_cursor: null }),
    [mayInvite],
  );
  return (
    <section>
      <p class="crumbs">Settings /</p>
      <PageHeader title="User Invites">
        {(mayInvite || mayCreate) && !open && (
          <button type="button" class="button primary" onClick={() => setOpen(true)}>
            INVITE
          </button>
        )}
      </PageHeader>
      {notice && <Alert kind="ok">{notice}</Alert>}
      {open && (
        <InviteForm
          groups={groups.data ?? []}
          mayInvite={mayInvite}
          mayCreate={mayCreate}
          onCancel={() => setOpen(false)}
          onDone={(message) => {
            setNotice(message);
            setOpen(false);
            pending.reload();
          }}
        />
      )}
      {mayInvite && (
        <PendingList
          rows={pending.data?.data ?? []}
          loading={pending.loading && !pending.data}
          error={pending.error}
          groups={groups.data ?? []}
          onChanged={(message) => {
            setNotice(message);
            pending.reload();
          }}
        />
      )}
      {mayCreate && <ImportCard onImported={pending.reload} />}
    </section>
  );
}

function InviteForm(p: {
  groups: Group[];
  mayInvite: boolean;
  mayCreate: boolean;
  onCancel: () => void;
  onDone: (message: string) => void;
}) {
  const [email, setEmail] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [manual, setManual] = useState(!p.mayInvite);
  const [first, setFirst] = useState("");
  const [last, setLast] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction();
  const fields = fieldErrors(action.error);
  const choosable = p.groups.filter((g) => g.name !== "Members");

  const submit = async (e: Event) => {
    e.preventDefault();
    const group_ids = chosen.length > 0 ? chosen : undefined;
    const done = manual
      ? await action.run(() =>
          api("POST", "/v1/users", {
            body: { email, first_name: first, last_name: last, password, group_ids },
          }),
        )
      : await action.run(() =>
          api<Invitation>("POST", "/v1/invitations", { body: { email, group_ids } }),
        );
    if (!done) return;
    if (manual) p.onDone(`${email} can sign in now.`);
    // The mail leaves after the answer; the list shows whether it was delivered.
    else p.onDone(`Invitation sent to ${email}.`);
  };
  const problem = formProblem(action.error, [
    "email",
    "group_ids",
    "first_name",
    "last_name",
    "password",
  ]);
  return (
    <section class="card" aria-labelledby="invite-title">
      <h2 id="invite-title">{manual ? "Create a user" : "Invite a user"}</h2>
      <form onSubmit={submit} noValidate>
        <Field
          id="invite-email"
          label="Email"
          type="email"
          value={email}
          onValue={setEmail}
          error={fields.email}
          required
        />
        <fieldset aria-describedby={fields.group_ids ? "invite-groups-error" : undefined}>
          <legend>Groups</legend>
          <p class="hint">Everyone is in Members; choose one or more groups besides.</p>
          {choosable.length === 0 ? (
            <p class="muted">No other groups yet.</p>
          ) : (
            choosable.map((g) => (
              <Check
                key={g.id}
                id={`invite-group-${g.id}`}
                label={g.name}
                checked={chosen.includes(g.id)}
                onChecked={(on) =>
                  setChosen(on ? [...chosen, g.id] : chosen.filter((x) => x !== g.id))
                }
              />
            ))
          )}
          {fields.group_ids && (
            <p class="field-error" id="invite-groups-error">
              {fields.group_ids}
            </p>
          )}
        </fieldset>
        {p.mayCreate && p.mayInvite && (
          <Check
            id="set-password"
            label="Set a password instead"
            checked={manual}
            onChecked={setManual}
          />
        )}
        {manual && (
          <>
            <Field
              id="first_name"
              label="First name"
              value={first}
              onValue={setFirst}
              error={fields.first_name}
            />
            <Field
              id="last_name"
              label="Last name"
              value={last}
              onValue={setLast}
              error={fields.last_name}
            />
            <Field
              id="password"
              label="Password"
              type="password"
              autocomplete="new-password"
              value={password}
              onValue={setPassword}
              error={fields.password}
              hint="At least 15 characters. Share it with the user safely."
            />
          </>
        )}
        {problem && <Alert>{problem}</Alert>}
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={action.busy}>
            {manual ? "CREATE USER" : "INVITE USER"}
          </button>
          <button type="button" class="button" onClick={p.onCancel}>
            Cancel
          </button>
          {action.busy && <Busy label={manual ? "Creating…" : "Inviting…"} />}
        </div>
      </form>
    </section>
  );
}

function PendingList(p: {
  rows: Invitation[];
  loading: boolean;
  error: unknown;
  groups: Group[];
  onChanged: (message: string) => void;
}) {
  const action = useAction();
  const names = new Map(p.groups.map((g) => [g.id, g.name]));
  const resend = async (inv: Invitation) => {
    const done = await action.run(() => api("POST", `/v1/invitations/${inv.id}/resend`));
    if (done) p.onChanged(`Invitation to ${inv.email} sent again.`);
  };
  const revoke = async (inv: Invitation) => {
    if (!confirm(`Revoke the invitation to ${inv.email}?`)) return;
    const done = await action.run(() =>
      api("DELETE", `/v1/invitations/${inv.id}`).then(() => true),
    );
    if (done) p.onChanged(`Invitation to ${inv.email} revoked.`);
  };
  return (
    <section class="card wide" aria-labelledby="pending-title">
      <h2 id="pending-title">Pending invitations</h2>
      {p.error ? <Alert>{problemText(p.error)}</Alert> : null}
      {action.error ? <Alert>{problemText(action.error)}</Alert> : null}
      {p.loading ? (
        <Busy label="Loading invitations…" />
      ) : p.rows.length === 0 ? (
        <Empty title="No pending invitations">Use INVITE to ask someone to join.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Groups</th>
                <th scope="col">Status</th>
                <th scope="col">Email</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {p.rows.map((inv) => (
                <tr key={inv.id}>
                  <td>{inv.email}</td>
                  <td>{inv.group_ids.map((id) => names.get(id) ?? id).join(", ")}</td>
                  <td>
                    <StatusBadge status={inv.status} />
                  </td>
                  <td>
                    {inv.email_delivery === "failed" ? (
                      <span class="badge badge-failed">failed: use Resend</span>
                    ) : (
                      <StatusBadge status={inv.email_delivery ?? "sent"} />
                    )}
                  </td>
                  <td>{when(inv.expires_at)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="button small"
                      disabled={action.busy}
                      onClick={() => resend(inv)}
                      aria-label={`Resend to ${inv.email}`}
                    >
                      Resend
                    </button>
                    <button
                      type="button"
                      class="button small danger"
                      disabled={action.busy}
                      onClick={() => revoke(inv)}
                      aria-label={`Revoke invitation to ${inv.email}`}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface ImportResult {
  summary: { total: number; created: number; invited: number; failed: number };
  results: { row: number; status: string; email?: string; code?: string; detail?: string }[];
}

function ImportCard({ onImported }: { onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<ImportResult | null>(null);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) {
      action.setError(new Error("Choose a CSV file first."));
      return;
    }
    setResult(null);
    const done = await action.run(async () =>
      api<ImportResult>("POST", "/v1/users/import", {
        raw: { body: await file.text(), type: "text/csv" },
      }),
    );
    if (done) {
      setResult(done);
      onImported();
    }
  };
  const fileError =
    action.error instanceof Error && !("status" in action.error) ? action.error.message : null;
  return (
    <section class="card wide" aria-labelledby="import-title">
      <h2 id="import-title">Bulk import</h2>
      <p class="hint">
        A CSV file with a header row: <code>email</code> (required), <code>first_name</code>,{" "}
        <code>last_name</code>, <code>group_ids</code> (separated by <code>;</code>),{" "}
        <code>action</code> (<code>invite</code> or <code>create</code>), <code>password</code>.
      </p>
      <form onSubmit={submit}>
        <div class="field">
          <label for="import-file">CSV file</label>
          <input
            id="import-file"
            type="file"
            accept=".csv,text/csv"
            aria-invalid={fileError ? "true" : undefined}
            aria-describedby={fileError ? "import-file-error" : undefined}
            onChange={(e: Event) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)}
          />
          {fileError && (
            <p class="field-error" id="import-file-error">
              {fileError}
            </p>
          )}
        </div>
        {action.error && !fileError ? <Alert>{problemText(action.error)}</Alert> : null}
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={action.busy}>
            Import users
          </button>
          {action.busy && (
            <span class="busy" role="status">
              <progress aria-label="Importing" /> Importing… each row is checked and written on its
              own.
            </span>
          )}
        </div>
      </form>
      {result && (
        <div class="import-result">
          <p role="status">
            {result.summary.total} rows: {result.summary.created} created, {result.summary.invited}{" "}
            invited, {result.summary.failed} failed.
          </p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Email</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {result.results.map((r) => (
                  <tr key={r.row}>
                    <td>{r.row}</td>
                    <td>{r.email ?? "—"}</td>
                    <td>
                      <StatusBadge status={r.status} /> {r.detail ?? ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </section>
  );
}

/** A user's page: profile, groups, status, password reset, sessions, activity, deletion. */
import { useEffect, useState } from "hono/jsx/dom";
import { api, get, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { type ActivityEvent, fullName, type Session, type User, useGroups } from "../model";
import { navigate } from "../router";
import { can, type Me } from "../session";
import {
  Alert,
  Busy,
  Check,
  Empty,
  Field,
  fieldErrors,
  formProblem,
  Link,
  OneTimeSecret,
  PageHeader,
  problemText,
  StatusBadge,
  when,
} from "../ui";
import { ActivityTable } from "./activity";

export function UserPage({ id, me }: { id: string; me: Me }) {
  const user = useLoad(() => get<User>(`/v1/users/${encodeURIComponent(id)}`), [id]);
  if (user.loading && !user.data) return <Busy label="Loading the user…" />;
  if (user.error || !user.data)
    return (
      <>
        <PageHeader title="User" />
        <Alert>{problemText(user.error)}</Alert>
        <Link href="/users">Back to Users</Link>
      </>
    );
  const u = user.data;
  const write = can(me, "users:write");
  return (
    <section>
      <p class="crumbs">
        <Link href="/users">Users</Link> /
      </p>
      <PageHeader title={fullName(u) || u.email}>
        <StatusBadge status={u.status} />
      </PageHeader>
      <div class="cards">
        <ProfileCard user={u} write={write} onSaved={user.reload} />
        <GroupsCard user={u} me={me} onSaved={user.reload} />
        {(write || can(me, "users:reset_password")) && (
          <AccessCard user={u} me={me} onSaved={user.reload} />
        )}
        {write && <SessionsCard user={u} />}
      </div>
      {can(me, "activity:read") && <UserActivity id={u.id} />}
    </section>
  );
}

function ProfileCard({
  user,
  write,
  onSaved,
}: {
  user: User;
  write: boolean;
  onSaved: () => void;
}) {
  const [first, setFirst] = useState(user.first_name);
  const [last, setLast] = useState(user.last_name);
  const [email, setEmail] = useState(user.email);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const fields = fieldErrors(action.error);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    const body: Record<string, string> = {};
    if (first !== user.first_name) body.first_name = first;
    if (last !== user.last_name) body.last_name = last;
    if (email.trim().toLowerCase() !== user.email) body.email = email;
    if (Object.keys(body).length === 0) return;
    const done = await action.run(() => api("PATCH", `/v1/users/${user.id}`, { body }));
    if (done) {
      setSaved(true);
      onSaved();
    }
  };
  const problem = formProblem(action.error, ["first_name", "last_name", "email"]);
  return (
    <section class="card" aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <dl class="facts">
        <dt>Created</dt>
        <dd>
          {when(user.created_at)} ({user.created_via})
        </dd>
        <dt>Last login</dt>
        <dd>
          {user.last_login_at
            ? `${when(user.last_login_at)} · ${user.last_login_method} · ${user.last_login_ip ?? "no IP"}`
            : "Never"}
        </dd>
        {user.pending_email && (
          <>
            <dt>Pending email</dt>
            <dd>{user.pending_email} (until verified)</dd>
          </>
        )}
      </dl>
      <form onSubmit={save} noValidate>
        <Field
          id="first_name"
          label="First name"
          value={first}
          onValue={setFirst}
          error={fields.first_name}
          disabled={!write}
        />
        <Field
          id="last_name"
          label="Last name"
          value={last}
          onValue={setLast}
          error={fields.last_name}
          disabled={!write}
        />
        <Field
          id="email"
          label="Email"
          type="email"
          value={email}
          onValue={setEmail}
          error={fields.email}
          disabled={!write}
          hint="A new address is used once its owner confirms it."
        />
        {problem && <Alert>{problem}</Alert>}
        {saved && <Alert kind="ok">Saved.</Alert>}
        {write && (
          <div class="form-actions">
            <button type="submit" class="button primary" disabled={action.busy}>
              Save profile
            </button>
            {action.busy && <Busy label="Saving…" />}
          </div>
        )}
      </form>
    </section>
  );
}

function GroupsCard({ user, me, onSaved }: { user: User; me: Me; onSaved: () => void }) {
  const groups = useGroups(can(me, "groups:read"));
  const [chosen, setChosen] = useState<string[]>(user.group_ids);
  const [saved, setSaved] = useState(false);
  useEffect(() => setChosen(user.group_ids), [user.group_ids.join()]);
  const action = useAction();
  const write = can(me, "users:write") && can(me, "groups:read");
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    const done = await action.run(() =>
      api("PUT", `/v1/users/${user.id}/groups`, { body: { group_ids: chosen } }),
    );
    if (done) {
      setSaved(true);
      onSaved();
    }
  };
  return (
    <section class="card" aria-labelledby="groups-title">
      <h2 id="groups-title">Groups</h2>
      {groups.loading && !groups.data ? (
        <Busy label="Loading groups…" />
      ) : (
        <form onSubmit={save}>
          <fieldset>
            <legend>Member of</legend>
            {(groups.data ?? []).map((g) => (
              <Check
                key={g.id}
                id={`group-${g.id}`}
                label={g.name}
                checked={chosen.includes(g.id)}
                disabled={!write || g.name === "Members"}
                onChecked={(on) =>
                  setChosen(on ? [...chosen, g.id] : chosen.filter((x) => x !== g.id))
                }
              />
            ))}
          </fieldset>
          {action.error ? <Alert>{problemText(action.error)}</Alert> : null}
          {saved && <Alert kind="ok">Groups saved.</Alert>}
          {write && (
            <div class="form-actions">
              <button type="submit" class="button primary" disabled={action.busy}>
                Save groups
              </button>
              {action.busy && <Busy label="Saving…" />}
            </div>
          )}
        </form>
      )}
    </section>
  );
}

function AccessCard({ user, me, onSaved }: { user: User; me: Me; onSaved: () => void }) {
  const action = useAction();
  const [temporary, setTemporary] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const write = can(me, "users:write");
  const setStatus = async (status: "active" | "disabled") => {
    setNotice(null);
    const done = await action.run(() => api("PATCH", `/v1/users/${user.id}`, { body: { status } }));
    if (done) {
      setNotice(status === "disabled" ? "User disabled; their sessions ended." : "User enabled.");
      onSaved();
    }
  };
  const reset = async () => {
    if (!confirm(`Reset the password of ${user.email}? Their sessions end at once.`)) return;
    setNotice(null);
    const done = await action.run(() =>
      api<{ temporary_password: string }>("POST", `/v1/users/${user.id}/password-reset`, {
        body: { method: "temporary_password" },
      }),
    );
    if (done) setTemporary(done.temporary_password);
  };
  const remove = async () => {
    if (!confirm(`Delete ${user.email}? This cannot be undone.`)) return;
    const done = await action.run(() => api("DELETE", `/v1/users/${user.id}`).then(() => true));
    if (done) navigate("/users");
  };
  return (
    <section class="card" aria-labelledby="access-title">
      <h2 id="access-title">Access</h2>
      {temporary && (
        <OneTimeSecret
          label="Temporary password"
          value={temporary}
          note="shown only this once. The user must choose a new password when signing in with it."
        />
      )}
      {action.error ? <Alert>{problemText(action.error)}</Alert> : null}
      {notice && <Alert kind="ok">{notice}</Alert>}
      <div class="button-row">
        {write &&
          (user.status === "active" ? (
            <button
              type="button"
              class="button"
              disabled={action.busy}
              onClick={() => setStatus("disabled")}
            >
              Disable user
            </button>
          ) : (
            <button
              type="button"
              class="button"
              disabled={action.busy}
              onClick={() => setStatus("active")}
            >
              Enable user
            </button>
          ))}
        {can(me, "users:reset_password") && (
          <button type="button" class="button" disabled={action.busy} onClick={reset}>
            Reset password
          </button>
        )}
        {write && (
          <button type="button" class="button danger" disabled={action.busy} onClick={remove}>
            Delete user
          </button>
        )}
        {action.busy && <Busy label="Working…" />}
      </div>
    </section>
  );
}

function SessionsCard({ user }: { user: User }) {
  const sessions = useLoad(
    () => get<Page<Session>>(`/v1/users/${user.id}/sessions?limit=50`),
    [user.id],
  );
  const action = useAction();
  const endAll = async () => {
    const done = await action.run(() =>
      api("DELETE", `/v1/users/${user.id}/sessions`).then(() => true),
    );
    if (done) sessions.reload();
  };
  const rows = sessions.data?.data ?? [];
  return (
    <section class="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      {sessions.error ? <Alert>{problemText(sessions.error)}</Alert> : null}
      {sessions.loading && !sessions.data ? (
        <Busy label="Loading sessions…" />
      ) : rows.length === 0 ? (
        <Empty title="No live sessions">The user is signed in nowhere.</Empty>
      ) : (
        <>
          <ul class="plain-list">
            {rows.map((s) => (
              <li key={s.id}>
                Since {when(s.created_at)} · last used {when(s.last_used_at)} · {s.ip ?? "no IP"}
                <br />
                <span class="muted">{s.user_agent ?? "unknown client"}</span>
              </li>
            ))}
          </ul>
          {action.error ? <Alert>{problemText(action.error)}</Alert> : null}
          <button type="button" class="button" disabled={action.busy} onClick={endAll}>
            End all sessions
          </button>
        </>
      )}
    </section>
  );
}

function UserActivity({ id }: { id: string }) {
  const events = useLoad(() => get<Page<ActivityEvent>>(`/v1/users/${id}/activity?limit=20`), [id]);
  return (
    <section class="card wide" aria-labelledby="user-activity-title">
      <h2 id="user-activity-title">Recent activity</h2>
      {events.error ? <Alert>{problemText(events.error)}</Alert> : null}
      {events.loading && !events.data ? (
        <Busy label="Loading activity…" />
      ) : (
        <ActivityTable events={events.data?.data ?? []} />
      )}
      <Link href={`/activity?user_id=${id}`}>All of this user's activity</Link>
    </section>
  );
}

/** Profile: own names, email change (pending until verified), password, own sessions. */
import { useState } from "hono/jsx/dom";
import { api, get, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import type { Session } from "../model";
import { loadProfile, type Me, signOut } from "../session";
import { Alert, Busy, Empty, Field, fieldErrors, formProblem, PageHeader, when } from "../ui";

export function ProfileScreen({ me }: { me: Me }) {
  return (
    <section>
      <PageHeader title="Profile" />
      <div class="cards">
        <NamesCard me={me} />
        <EmailCard me={me} />
        <PasswordCard />
        <SessionsCard />
      </div>
    </section>
  );
}

function NamesCard({ me }: { me: Me }) {
  const [first, setFirst] = useState(me.first_name);
  const [last, setLast] = useState(me.last_name);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const fields = fieldErrors(action.error);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    if (
      await action.run(() =>
        api("PATCH", "/v1/me", { body: { first_name: first, last_name: last } }),
      )
    ) {
      setSaved(true);
      loadProfile();
    }
  };
  return (
    <section class="card" aria-labelledby="names-title">
      <h2 id="names-title">Name</h2>
      <form onSubmit={save} noValidate>
        <Field
          id="me-first"
          label="First name"
          value={first}
          onValue={setFirst}
          error={fields.first_name}
        />
        <Field
          id="me-last"
          label="Last name"
          value={last}
          onValue={setLast}
          error={fields.last_name}
        />
        {formProblem(action.error, ["first_name", "last_name"]) && (
          <Alert>{formProblem(action.error, ["first_name", "last_name"])}</Alert>
        )}
        {saved && <Alert kind="ok">Saved.</Alert>}
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={action.busy}>
            Save name
          </button>
        </div>
      </form>
    </section>
  );
}

function EmailCard({ me }: { me: Me }) {
  const [email, setEmail] = useState("");
  const [current, setCurrent] = useState("");
  const action = useAction();
  const fields = fieldErrors(action.error);
  const save = async (e: Event) => {
    e.preventDefault();
    if (
      await action.run(() => api("PATCH", "/v1/me", { body: { email, current_password: current } }))
    ) {
      setEmail("");
      setCurrent("");
      loadProfile();
    }
  };
  return (
    <section class="card" aria-labelledby="email-title">
      <h2 id="email-title">Email</h2>
      <p>
        You sign in with <strong>{me.email}</strong>.
      </p>
      {me.pending_email && (
        <Alert kind="ok">
          Change to <strong>{me.pending_email}</strong> pending until verified: follow the link
          mailed to that address.
        </Alert>
      )}
      <form onSubmit={save} noValidate>
        <Field
          id="me-email"
          label="New email"
          type="email"
          value={email}
          onValue={setEmail}
          error={fields.email}
        />
        <Field
          id="me-email-password"
          label="Current password"
          type="password"
          autocomplete="current-password"
          value={current}
          onValue={setCurrent}
          error={fields.current_password}
        />
        {formProblem(action.error, ["email", "current_password"]) && (
          <Alert>{formProblem(action.error, ["email", "current_password"])}</Alert>
        )}
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={action.busy}>
            Change email
          </button>
        </div>
      </form>
    </section>
  );
}

function PasswordCard() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const fields = fieldErrors(action.error);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    const done = await action.run(() =>
      api("POST", "/v1/me/password", {
        body: { current_password: current, new_password: next },
      }).then(() => true),
    );
    if (done) {
      setSaved(true);
      setCurrent("");
      setNext("");
    }
  };
  return (
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <form onSubmit={save} noValidate>
        <Field
          id="pw-current"
          label="Current password"
          type="password"
          autocomplete="current-password"
          value={current}
          onValue={setCurrent}
          error={fields.current_password}
        />
        <Field
          id="pw-new"
          label="New password"
          type="password"
          autocomplete="new-password"
          value={next}
          onValue={setNext}
          error={fields.new_password}
          hint="At least 15 characters. Your other sessions end."
        />
        {formProblem(action.error, ["current_password", "new_password"]) && (
          <Alert>{formProblem(action.error, ["current_password", "new_password"])}</Alert>
        )}
        {saved && <Alert kind="ok">Password changed; your other sessions have ended.</Alert>}
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={action.busy}>
            Change password
          </button>
          {action.busy && <Busy label="Saving…" />}
        </div>
      </form>
    </section>
  );
}

function SessionsCard() {
  const sessions = useLoad(() => get<Page<Session>>("/v1/me/sessions?limit=50"), []);
  const action = useAction();
  const end = async (s: Session) => {
    if (s.current) return signOut("You ended this session.");
    if (await action.run(() => api("DELETE", `/v1/me/sessions/${s.id}`).then(() => true)))
      sessions.reload();
  };
  const endOthers = async () => {
    if (await action.run(() => api("DELETE", "/v1/me/sessions").then(() => true)))
      sessions.reload();
  };
  const rows = sessions.data?.data ?? [];
  return (
    <section class="card wide" aria-labelledby="my-sessions-title">
      <h2 id="my-sessions-title">Your sessions</h2>
      {sessions.loading && !sessions.data ? (
        <Busy label="Loading sessions…" />
      ) : rows.length === 0 ? (
        <Empty title="No sessions" />
      ) : (
        <ul class="plain-list">
          {rows.map((s) => (
            <li key={s.id} class="row-with-action">
              <span>
                {s.current && <strong>This browser · </strong>}
                since {when(s.created_at)} · last used {when(s.last_used_at)} · {s.ip ?? "no IP"}
                <br />
                <span class="muted small">{s.user_agent ?? "unknown client"}</span>
              </span>
              <button
                type="button"
                class="button small"
                onClick={() => end(s)}
                aria-label={
                  s.current
                    ? "End this session (sign out)"
                    : `End session from ${when(s.created_at)}`
                }
              >
                End
              </button>
            </li>
          ))}
        </ul>
      )}
      <button
        type="button"
        class="button"
        disabled={action.busy || rows.length < 2}
        onClick={endOthers}
      >
        End all other sessions
      </button>
    </section>
  );
}

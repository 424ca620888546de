/** Team Login: the SSO connection (with the redirect URI to register) and SCIM tokens. */
import { useEffect, useState } from "hono/jsx/dom";
import { ApiError, api, get, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useGroups } from "../model";
import type { Account, Me } from "../session";
import {
  Alert,
  Busy,
  Check,
  CopyText,
  Empty,
  Field,
  fieldErrors,
  formProblem,
  OneTimeSecret,
  PageHeader,
  problemText,
  when,
} from "../ui";

interface Connection {
  issuer: string;
  client_id: string;
  domains: string[];
  sso_required: boolean;
  jit: { enabled: boolean; default_group_ids: string[] };
  redirect_uri: string;
}

export function TeamLoginScreen({ account }: { me: Me; account: Account }) {
  if (!account.features.includes("team_login"))
    return (
      <section>
        <p class="crumbs">Settings /</p>
        <PageHeader title="Team Login" />
        <Empty title="Team Login is in the enterprise plan">
          Sign your team in through your identity provider (Okta, Entra ID, Google Workspace…) and
          provision users over SCIM. See Billing & Limits to change the plan.
        </Empty>
      </section>
    );
  return (
    <section>
      <p class="crumbs">Settings /</p>
      <PageHeader title="Team Login" />
      <ConnectionCard />
      <ScimTokens />
    </section>
  );
}

function ConnectionCard() {
  const conn = useLoad(
    () =>
      get<Connection>("/v1/sso/connection").catch((err) => {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }),
    [],
  );
  const groups = useGroups();
  const [issuer, setIssuer] = useState("");
  const [clientId, setClientId] = useState("");
  const [secret, setSecret] = useState("");
  const [domains, setDomains] = useState("");
  const [required, setRequired] = useState(false);
  const [jit, setJit] = useState(false);
  const [jitGroups, setJitGroups] = useState<string[]>([]);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => {
    const c = conn.data;
    if (!c) return;
    setIssuer(c.issuer);
    setClientId(c.client_id);
    setDomains(c.domains.join(", "));
    setRequired(c.sso_required);
    setJit(c.jit.enabled);
    setJitGroups(c.jit.default_group_ids);
  }, [conn.data]);
  const fields = fieldErrors(action.error);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    const body = {
      issuer,
      client_id: clientId,
      ...(secret ? { client_secret: secret } : {}),
      domains: domains.split(/[\s,]+/).filter(Boolean),
      sso_required: required,
      jit: { enabled: jit, default_group_ids: jitGroups },
    };
    const done = await action.run(() => api("PUT", "/v1/sso/connection", { body }));
    if (done) {
      setSaved(true);
      setSecret("");
      conn.reload();
    }
  };
  const redirect = conn.data?.redirect_uri ?? `${location.origin}/v1/sso/callback`;
  const problem = formProblem(action.error, [
    "issuer",
    "client_id",
    "client_secret",
    "domains",
    "jit",
  ]);
  return (
    <section class="card wide" aria-labelledby="sso-title">
      <h2 id="sso-title">SSO connection</h2>
      {conn.loading && !conn.data && conn.data !== null ? (
        <Busy label="Loading the connection…" />
      ) : (
        <>
          <p>Register this redirect URI at your identity provider:</p>
          <CopyText label="redirect URI" value={redirect} />
          {conn.error ? <Alert>{problemText(conn.error)}</Alert> : null}
          {conn.data === null && (
            <p class="muted">No connection yet: fill in the form to create one.</p>
          )}
          <form onSubmit={save} noValidate>
            <Field
              id="issuer"
              label="Issuer URL"
              value={issuer}
              onValue={setIssuer}
              error={fields.issuer}
              placeholder="https://login.example.com"
            />
            <Field
              id="client_id"
              label="Client ID"
              value={clientId}
              onValue={setClientId}
              error={fields.client_id}
            />
            <Field
              id="client_secret"
              label="Client secret"
              type="password"
              value={secret}
              onValue={setSecret}
              error={fields.client_secret}
              hint={
                conn.data
                  ? "Leave empty to keep the stored secret."
                  : "Required for a new connection."
              }
            />
            <Field
              id="domains"
              label="Email domains"
              value={domains}
              onValue={setDomains}
              error={fields.domains}
              hint="Comma-separated, e.g. example.com, example.org"
            />
            <Check
              id="sso_required"
              label="Require Team Login for these domains (administrators keep password sign-in)"
              checked={required}
              onChecked={setRequired}
            />
            <Check
              id="jit"
              label="Create users on their first sign-in"
              checked={jit}
              onChecked={setJit}
            />
            {jit && (
              <fieldset>
                <legend>Groups for new users</legend>
                {(groups.data ?? [])
                  .filter((g) => g.name !== "Members")
                  .map((g) => (
                    <Check
                      key={g.id}
                      id={`jit-${g.id}`}
                      label={g.name}
                      checked={jitGroups.includes(g.id)}
                      onChecked={(on) =>
                        setJitGroups(
                          on ? [...jitGroups, g.id] : jitGroups.filter((x) => x !== g.id),
                        )
                      }
                    />
                  ))}
              </fieldset>
            )}
            {problem && <Alert>{problem}</Alert>}
            {saved && <Alert kind="ok">Connection saved.</Alert>}
            <div class="form-actions">
              <button type="submit" class="button primary" disabled={action.busy}>
                Save connection
              </button>
              {action.busy && <Busy label="Checking the issuer and saving…" />}
            </div>
          </form>
        </>
      )}
    </section>
  );
}

interface ScimToken {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

function ScimTokens() {
  const tokens = useLoad(() => get<Page<ScimToken>>("/v1/scim-tokens?limit=100"), []);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const action = useAction();
  const fields = fieldErrors(action.error);
  const create = async (e: Event) => {
    e.preventDefault();
    const done = await action.run(() =>
      api<{ token: string }>("POST", "/v1/scim-tokens", { body: { name } }),
    );
    if (done) {
      setSecret(done.token);
      setName("");
      tokens.reload();
    }
  };
  const revoke = async (t: ScimToken) => {
    if (!confirm(`Revoke the SCIM token ${t.name}? The identity provider stops provisioning.`))
      return;
    if (await action.run(() => api("DELETE", `/v1/scim-tokens/${t.id}`).then(() => true)))
      tokens.reload();
  };
  const rows = tokens.data?.data ?? [];
  return (
    <section class="card wide" aria-labelledby="scim-title">
      <h2 id="scim-title">SCIM tokens</h2>
      <p>
        Your identity provider provisions users and groups at <code>{location.origin}/scim/v2</code>{" "}
        with one of these tokens.
      </p>
      {secret && <OneTimeSecret label="SCIM token" value={secret} />}
      {tokens.error ? <Alert>{problemText(tokens.error)}</Alert> : null}
      {rows.length === 0 && !tokens.loading ? (
        <Empty title="No SCIM tokens">Create one and paste it into your identity provider.</Empty>
      ) : (
        <ul class="plain-list">
          {rows.map((t) => (
            <li key={t.id} class="row-with-action">
              <span>
                <strong>{t.name}</strong>{" "}
                <span class="muted">
                  created {when(t.created_at)} · last used {when(t.last_used_at)}
                </span>
              </span>
              <button
                type="button"
                class="button small danger"
                onClick={() => revoke(t)}
                aria-label={`Revoke SCIM token ${t.name}`}
              >
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={create} class="toolbar" noValidate>
        <Field
          id="scim-name"
          label="Token name"
          value={name}
          onValue={setName}
          error={fields.name}
        />
        <button type="submit" class="button primary" disabled={action.busy}>
          Create SCIM token
        </button>
      </form>
      {formProblem(action.error, ["name"]) && <Alert>{formProblem(action.error, ["name"])}</Alert>}
    </section>
  );
}

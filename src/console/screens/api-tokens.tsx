/** API tokens: the account's tokens, a new one (its secret shown once), revocation. */
import { useState } from "hono/jsx/dom";
import { api, get, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { type Account, can, type Me } from "../session";
import {
  Alert,
  Busy,
  Check,
  Empty,
  Field,
  fieldErrors,
  formProblem,
  OneTimeSecret,
  PageHeader,
  problemText,
  when,
} from "../ui";

interface ApiToken {
  id: string;
  name: string;
  permissions: string[];
  expires_at: string;
  last_used_at: string | null;
  created_at: string;
}

export function ApiTokensScreen({ me, account }: { me: Me; account: Account }) {
  const feature = account.features.includes("api_tokens");
  const tokens = useLoad(
    () =>
      feature
        ? get<Page<ApiToken>>("/v1/api-tokens?limit=100")
        : Promise.resolve({ data: [], next_cursor: null }),
    [feature],
  );
  const held = [...new Set(me.permissions.map((p) => p.permission))];
  const [name, setName] = useState("");
  const [perms, setPerms] = useState<string[]>([]);
  const [secret, setSecret] = useState<string | null>(null);
  const action = useAction();
  const fields = fieldErrors(action.error);
  if (!feature)
    return (
      <section>
        <p class="crumbs">Settings /</p>
        <PageHeader title="API tokens" />
        <Empty title={`API tokens are not in the ${account.plan} plan`}>
          They are in team, business and enterprise. See Billing & Limits.
        </Empty>
      </section>
    );
  const create = async (e: Event) => {
    e.preventDefault();
    const done = await action.run(() =>
      api<{ token: string }>("POST", "/v1/api-tokens", { body: { name, permissions: perms } }),
    );
    if (done) {
      setSecret(done.token);
      setName("");
      setPerms([]);
      tokens.reload();
    }
  };
  const revoke = async (t: ApiToken) => {
    if (!confirm(`Revoke ${t.name}? Anything using it stops working at once.`)) return;
    if (await action.run(() => api("DELETE", `/v1/api-tokens/${t.id}`).then(() => true)))
      tokens.reload();
  };
  const rows = tokens.data?.data ?? [];
  return (
    <section>
      <p class="crumbs">Settings /</p>
      <PageHeader title="API tokens" />
      {secret && <OneTimeSecret label="API token" value={secret} />}
      {tokens.error ? <Alert>{problemText(tokens.error)}</Alert> : null}
      {tokens.loading && !tokens.data ? (
        <Busy label="Loading tokens…" />
      ) : rows.length === 0 ? (
        <Empty title="No API tokens">
          Create one for a script or an integration; it acts as you, narrowed to the permissions you
          pick.
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Permissions</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td class="small">{t.permissions.join(", ")}</td>
                  <td>{when(t.expires_at)}</td>
                  <td>{when(t.last_used_at)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="button small danger"
                      onClick={() => revoke(t)}
                      aria-label={`Revoke ${t.name}`}
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
      {can(me, "api_tokens:manage") && (
        <section class="card" aria-labelledby="new-token-title">
          <h2 id="new-token-title">New API token</h2>
          <form onSubmit={create} noValidate>
            <Field
              id="token-name"
              label="Name"
              value={name}
              onValue={setName}
              error={fields.name}
            />
            <fieldset aria-describedby={fields.permissions ? "token-perms-error" : undefined}>
              <legend>Permissions (only those you hold)</legend>
              <div class="check-grid">
                {held.map((p) => (
                  <Check
                    key={p}
                    id={`perm-${p}`}
                    label={<code>{p}</code>}
                    checked={perms.includes(p)}
                    onChecked={(on) => setPerms(on ? [...perms, p] : perms.filter((x) => x !== p))}
                  />
                ))}
              </div>
              {fields.permissions && (
                <p class="field-error" id="token-perms-error">
                  {fields.permissions}
                </p>
              )}
            </fieldset>
            {formProblem(action.error, ["name", "permissions"]) && (
              <Alert>{formProblem(action.error, ["name", "permissions"])}</Alert>
            )}
            <div class="form-actions">
              <button type="submit" class="button primary" disabled={action.busy}>
                Create API token
              </button>
              {action.busy && <Busy label="Creating…" />}
            </div>
          </form>
        </section>
      )}
    </section>
  );
}

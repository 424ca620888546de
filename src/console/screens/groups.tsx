/** Groups: the list, a new group, and a group's grants editor with scopes and its members. */
import { useState } from "hono/jsx/dom";
import { api, get, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { fullName, type Group, PERMISSIONS, type User } from "../model";
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
  inputValue,
  Link,
  PageHeader,
  problemText,
} from "../ui";

export function GroupsScreen({ me }: { me: Me }) {
  const groups = useLoad(() => get<Page<Group>>("/v1/groups?limit=100"), []);
  const [name, setName] = useState("");
  const [creating, setCreating] = useState(false);
  const action = useAction();
  const fields = fieldErrors(action.error);
  const create = async (e: Event) => {
    e.preventDefault();
    const done = await action.run(() =>
      api<Group>("POST", "/v1/groups", { body: { name, grants: [] } }),
    );
    if (done) navigate(`/groups/${done.id}`);
  };
  const rows = groups.data?.data ?? [];
  return (
    <section>
      <PageHeader title="Groups">
        {can(me, "groups:write") && !creating && (
          <button type="button" class="button primary" onClick={() => setCreating(true)}>
            New group
          </button>
        )}
      </PageHeader>
      {creating && (
        <section class="card" aria-labelledby="new-group-title">
          <h2 id="new-group-title">New group</h2>
          <form onSubmit={create} noValidate>
            <Field
              id="group-name"
              label="Name"
              value={name}
              onValue={setName}
              error={fields.name}
            />
            {formProblem(action.error, ["name"]) && (
              <Alert>{formProblem(action.error, ["name"])}</Alert>
            )}
            <div class="form-actions">
              <button type="submit" class="button primary" disabled={action.busy}>
                Create group
              </button>
              <button type="button" class="button" onClick={() => setCreating(false)}>
                Cancel
              </button>
            </div>
          </form>
        </section>
      )}
      {groups.error ? <Alert>{problemText(groups.error)}</Alert> : null}
      {groups.loading && !groups.data ? (
        <Busy label="Loading groups…" />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Description</th>
                <th scope="col">Members</th>
                <th scope="col">Permissions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((g) => (
                <tr key={g.id}>
                  <td>
                    <Link href={`/groups/${g.id}`}>{g.name}</Link>
                    {g.builtin && <span class="badge">built-in</span>}
                  </td>
                  <td>{g.description ?? <span class="muted">—</span>}</td>
                  <td>{g.member_count}</td>
                  <td>{g.grants.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

type Draft = Record<string, { on: boolean; scope: string }>;

const SCOPE_KEY = (permission: string) =>
  permission.startsWith("devices:")
    ? "device_organization_ids"
    : permission.startsWith("content:")
      ? "content_types"
      : null;

function draftOf(group: Group): Draft {
  const d: Draft = {};
  for (const p of PERMISSIONS) d[p] = { on: false, scope: "" };
  for (const g of group.grants) {
    const key = SCOPE_KEY(g.permission);
    d[g.permission] = { on: true, scope: key && g.scope ? (g.scope[key] ?? []).join(", ") : "" };
  }
  return d;
}

export function GroupPage({ id, me }: { id: string; me: Me }) {
  const group = useLoad(() => get<Group>(`/v1/groups/${encodeURIComponent(id)}`), [id]);
  if (group.loading && !group.data) return <Busy label="Loading the group…" />;
  if (!group.data)
    return (
      <>
        <PageHeader title="Group" />
        <Alert>{problemText(group.error)}</Alert>
      </>
    );
  return <GroupEditor key={group.data.id} group={group.data} me={me} onSaved={group.reload} />;
}

function GroupEditor({ group, me, onSaved }: { group: Group; me: Me; onSaved: () => void }) {
  const [draft, setDraft] = useState<Draft>(draftOf(group));
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const members = useLoad(
    () =>
      can(me, "users:read")
        ? get<Page<User>>(`/v1/users?group_id=${group.id}&limit=100`)
        : Promise.resolve({ data: [], next_cursor: null }),
    [group.id],
  );
  const editable = can(me, "groups:write") && group.name !== "Administrators";
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    const grants = PERMISSIONS.filter((p) => draft[p]!.on).map((permission) => {
      const key = SCOPE_KEY(permission);
      const list = draft[permission]!.scope.split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      return key && list.length > 0 ? { permission, scope: { [key]: list } } : { permission };
    });
    const done = await action.run(() =>
      api("PATCH", `/v1/groups/${group.id}`, { body: { grants } }),
    );
    if (done) {
      setSaved(true);
      onSaved();
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the group ${group.name}?`)) return;
    const done = await action.run(() => api("DELETE", `/v1/groups/${group.id}`).then(() => true));
    if (done) navigate("/groups");
  };
  return (
    <section>
      <p class="crumbs">
        <Link href="/groups">Groups</Link> /
      </p>
      <PageHeader title={group.name}>
        {can(me, "groups:write") && !group.builtin && (
          <button type="button" class="button danger" onClick={remove}>
            Delete group
          </button>
        )}
      </PageHeader>
      {group.description && <p>{group.description}</p>}
      <div class="cards">
        <section class="card" aria-labelledby="grants-title">
          <h2 id="grants-title">Grants</h2>
          {group.name === "Administrators" && (
            <p class="hint">Administrators hold every permission; their grants cannot change.</p>
          )}
          <form onSubmit={save}>
            <fieldset>
              <legend>Permissions</legend>
              {PERMISSIONS.map((p) => {
                const key = SCOPE_KEY(p);
                const d = draft[p]!;
                return (
                  <div key={p} class="grant">
                    <Check
                      id={`grant-${p}`}
                      label={<code>{p}</code>}
                      checked={d.on}
                      disabled={!editable}
                      onChecked={(on) => setDraft({ ...draft, [p]: { ...d, on } })}
                    />
                    {key && d.on && (
                      <div class="field scope">
                        <label for={`scope-${p}`}>
                          {key === "device_organization_ids"
                            ? "Device organizations (ids)"
                            : "Content types"}
                        </label>
                        <input
                          id={`scope-${p}`}
                          value={d.scope}
                          disabled={!editable}
                          placeholder="All — or a comma-separated list"
                          onInput={(e: Event) =>
                            setDraft({ ...draft, [p]: { ...d, scope: inputValue(e) } })
                          }
                        />
                      </div>
                    )}
                  </div>
                );
              })}
            </fieldset>
            {action.error ? <Alert>{problemText(action.error)}</Alert> : null}
            {saved && <Alert kind="ok">Grants saved.</Alert>}
            {editable && (
              <div class="form-actions">
                <button type="submit" class="button primary" disabled={action.busy}>
                  Save grants
                </button>
                {action.busy && <Busy label="Saving…" />}
              </div>
            )}
          </form>
        </section>
        <section class="card" aria-labelledby="members-title">
          <h2 id="members-title">Who is in it ({group.member_count})</h2>
          {members.loading && !members.data ? (
            <Busy label="Loading members…" />
          ) : (members.data?.data ?? []).length === 0 ? (
            <Empty title="Nobody yet">Add people from their page in Users.</Empty>
          ) : (
            <ul class="plain-list">
              {members.data!.data.map((u) => (
                <li key={u.id}>
                  <Link href={`/users/${u.id}`}>{fullName(u) || u.email}</Link>{" "}
                  <span class="muted">{u.email}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </section>
  );
}

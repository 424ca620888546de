/** Users: a searchable, paged list with groups, status and last login. */
import { useState } from "hono/jsx/dom";
import { get, type Page, query } from "../api";
import { usePaged } from "../hooks";
import { fullName, type User, useGroups } from "../model";
import { navigate } from "../router";
import { can, type Me } from "../session";
import {
  Alert,
  Busy,
  Empty,
  inputValue,
  Link,
  PageHeader,
  Pager,
  problemText,
  StatusBadge,
  when,
} from "../ui";

export function UsersScreen({ me }: { me: Me }) {
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const [search, setSearch] = useState({ q: "", status: "" });
  const groups = useGroups(can(me, "groups:read"));
  const names = new Map((groups.data ?? []).map((g) => [g.id, g.name]));
  const users = usePaged(
    (cursor) =>
      get<Page<User>>(
        `/v1/users${query({ q: search.q, status: search.status, limit: 25, cursor })}`,
      ),
    [search.q, search.status],
  );
  return (
    <section>
      <PageHeader title="Users">
        {can(me, "users:invite", "users:write") && (
          <button
            type="button"
            class="button primary"
            onClick={() => navigate("/settings/invites?invite=1")}
          >
            INVITE
          </button>
        )}
      </PageHeader>
      <form
        class="toolbar"
        aria-label="Search users"
        onSubmit={(e: Event) => {
          e.preventDefault();
          setSearch({ q: q.trim(), status });
        }}
      >
        <div class="field inline">
          <label for="user-search">Search users</label>
          <input
            id="user-search"
            type="search"
            placeholder="Name or email"
            value={q}
            onInput={(e: Event) => setQ(inputValue(e))}
          />
        </div>
        <div class="field inline">
          <label for="user-status">Status</label>
          <select id="user-status" value={status} onChange={(e: Event) => setStatus(inputValue(e))}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="disabled">Disabled</option>
          </select>
        </div>
        <button type="submit" class="button">
          Search
        </button>
      </form>
      {users.error ? <Alert>{problemText(users.error)}</Alert> : null}
      {users.loading && !users.data ? (
        <Busy label="Loading users…" />
      ) : users.rows.length === 0 ? (
        <Empty title={search.q || search.status ? "No user matches" : "No users yet"}>
          {search.q || search.status
            ? "Try another name or email, or clear the filters."
            : "Invite your team from Settings → User Invites."}
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Users</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Groups</th>
                <th scope="col">Status</th>
                <th scope="col">Last login</th>
              </tr>
            </thead>
            <tbody>
              {users.rows.map((u) => (
                <tr key={u.id}>
                  <td>
                    <Link href={`/users/${u.id}`}>{fullName(u) || u.email}</Link>
                  </td>
                  <td>{u.email}</td>
                  <td class="groups-cell">
                    {u.group_ids.map((id) => names.get(id) ?? id).join(", ")}
                  </td>
                  <td>
                    <StatusBadge status={u.status} />
                  </td>
                  <td>
                    {u.last_login_at ? (
                      <>
                        {when(u.last_login_at)}
                        <span class="muted">
                          {" "}
                          · {u.last_login_method} · {u.last_login_ip ?? "no IP"}
                        </span>
                      </>
                    ) : (
                      <span class="muted">Never</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        hasPrevious={users.hasPrevious}
        next={users.next}
        onPrevious={users.previousPage}
        onNext={users.nextPage}
      />
    </section>
  );
}

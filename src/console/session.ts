/** Who is signed in: the access token (memory only), `GET /v1/me` and `GET /v1/account`. */
import { ApiError, cookieCall, get, refreshAccess, setAccessToken, whenSessionLost } from "./api";
import { navigate } from "./router";
import { store } from "./store";

export interface Grant {
  permission: string;
  scope: Record<string, string[]> | null;
}

export interface Me {
  id: string;
  email: string;
  pending_email: string | null;
  first_name: string;
  last_name: string;
  must_change_password: boolean;
  groups: { id: string; name: string }[];
  permissions: Grant[];
  account: { id: string; name: string; plan: string };
  authenticated_via: { type: string; id: string };
}

export interface Account {
  id: string;
  name: string;
  plan: string;
  features: string[];
  managed_by: { type: "direct" } | { type: "reseller"; id: string; name: string };
}

export type SessionState =
  | { kind: "loading" }
  | { kind: "signed-out"; notice?: string }
  | { kind: "must-change-password"; email: string }
  | { kind: "signed-in"; me: Me; account: Account };

export const session = store<SessionState>({ kind: "loading" });

export function can(me: Me, ...permissions: string[]) {
  return permissions.some((p) => me.permissions.some((g) => g.permission === p));
}

export async function loadProfile() {
  const me = await get<Me>("/v1/me");
  if (me.must_change_password) {
    session.set({ kind: "must-change-password", email: me.email });
    return;
  }
  const account = await get<Account>("/v1/account");
  session.set({ kind: "signed-in", me, account });
}

interface ConsoleLogin {
  access_token: string;
  must_change_password: boolean;
  user: { email: string };
}

async function begin(login: ConsoleLogin) {
  setAccessToken(login.access_token);
  if (login.must_change_password) {
    session.set({ kind: "must-change-password", email: login.user.email });
    return;
  }
  await loadProfile();
}

export async function signIn(email: string, password: string) {
  await begin(await cookieCall<ConsoleLogin>("/login", { email, password }));
}

export async function exchangeSsoCode(code: string) {
  await begin(await cookieCall<ConsoleLogin>("/exchange", { code }));
}

export async function signOut(notice?: string) {
  try {
    await cookieCall("/logout");
  } finally {
    setAccessToken(null);
    session.set({ kind: "signed-out", notice });
    navigate("/sign-in", { replace: true });
  }
}

/** On load: a live cookie means a session to resume, without asking for the password. */
export async function resume() {
  if (!(await refreshAccess())) {
    session.set({ kind: "signed-out" });
    return;
  }
  try {
    await loadProfile();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) session.set({ kind: "signed-out" });
    else throw err;
  }
}

whenSessionLost(() => {
  setAccessToken(null);
  if (session.get().kind === "signed-in")
    session.set({ kind: "signed-out", notice: "Your session has ended. Sign in again." });
});

/** The shell: sign-in when signed out, else the sidebar and the screen the path names. */
import type { Child } from "hono/jsx";
import { useEffect, useState } from "hono/jsx/dom";
import { match, navigate, useLocation } from "./router";
import { ActivityScreen } from "./screens/activity";
import { ApiTokensScreen } from "./screens/api-tokens";
import { BillingScreen } from "./screens/billing";
import { GroupPage, GroupsScreen } from "./screens/groups";
import { InvitesScreen } from "./screens/invites";
import { ProfileScreen } from "./screens/profile";
import { ChangePasswordScreen, SignInScreen, SsoCallback } from "./screens/sign-in";
import { TeamLoginScreen } from "./screens/team-login";
import { UserPage } from "./screens/user-page";
import { UsersScreen } from "./screens/users";
import { WebhooksScreen } from "./screens/webhooks";
import { type Account, can, type Me, session, signOut } from "./session";
import { useStore } from "./store";
import { Busy, Empty, Link } from "./ui";

interface Screen {
  path: string;
  title: string;
  /** Any of these lets the screen show; none means everyone. */
  needs?: string[];
  render: (p: Record<string, string>, me: Me, account: Account) => Child;
  nav?: "main" | "settings" | "you";
}

const SCREENS: Screen[] = [
  {
    path: "/users",
    title: "Users",
    needs: ["users:read"],
    nav: "main",
    render: (_, me) => <UsersScreen me={me} />,
  },
  {
    path: "/users/:id",
    title: "User",
    needs: ["users:read"],
    render: (p, me) => <UserPage id={p.id!} me={me} />,
  },
  {
    path: "/groups",
    title: "Groups",
    needs: ["groups:read"],
    nav: "main",
    render: (_, me) => <GroupsScreen me={me} />,
  },
  {
    path: "/groups/:id",
    title: "Group",
    needs: ["groups:read"],
    render: (p, me) => <GroupPage id={p.id!} me={me} />,
  },
  {
    path: "/activity",
    title: "Activity",
    needs: ["activity:read"],
    nav: "main",
    render: () => <ActivityScreen />,
  },
  {
    path: "/settings/invites",
    title: "User Invites",
    needs: ["users:invite", "users:write"],
    nav: "settings",
    render: (_, me) => <InvitesScreen me={me} />,
  },
  {
    path: "/billing",
    title: "Billing & Limits",
    needs: ["billing:read"],
    nav: "settings",
    render: (_, me, a) => <BillingScreen me={me} account={a} />,
  },
  {
    path: "/team-login",
    title: "Team Login",
    needs: ["sso:manage"],
    nav: "settings",
    render: (_, me, a) => <TeamLoginScreen me={me} account={a} />,
  },
  {
    path: "/webhooks",
    title: "Webhooks",
    needs: ["webhooks:manage"],
    nav: "settings",
    render: (_, _me, a) => <WebhooksScreen account={a} />,
  },
  {
    path: "/api-tokens",
    title: "API tokens",
    needs: ["api_tokens:manage"],
    nav: "settings",
    render: (_, me, a) => <ApiTokensScreen me={me} account={a} />,
  },
  { path: "/profile", title: "Profile", nav: "you", render: (_, me) => <ProfileScreen me={me} /> },
];

const allowed = (s: Screen, me: Me) => !s.needs || can(me, ...s.needs);

function Sidebar({ me, account, current }: { me: Me; account: Account; current: string }) {
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [current]);
  const item = (s: Screen) => (
    <li key={s.path}>
      <Link href={s.path} class={current.startsWith(s.path) ? "nav-link active" : "nav-link"}>
        {s.title}
      </Link>
    </li>
  );
  const section = (nav: Screen["nav"]) => SCREENS.filter((s) => s.nav === nav && allowed(s, me));
  const settings = section("settings");
  return (
    <aside class={open ? "sidebar open" : "sidebar"}>
      <div class="brand">
        <span class="brand-mark" aria-hidden="true">
          UM
        </span>
        <span class="brand-name">{account.name}</span>
        <button
          type="button"
          class="menu-toggle"
          aria-expanded={open ? "true" : "false"}
          aria-controls="main-nav"
          onClick={() => setOpen(!open)}
        >
          Menu
        </button>
      </div>
      <nav id="main-nav" aria-label="Console">
        <ul>{section("main").map(item)}</ul>
        {settings.length > 0 && (
          <>
            <p class="nav-heading" id="nav-settings">
              Settings
            </p>
            <ul aria-labelledby="nav-settings">{settings.map(item)}</ul>
          </>
        )}
        <ul class="nav-you">
          {section("you").map(item)}
          <li>
            <button type="button" class="nav-link nav-button" onClick={() => signOut()}>
              Sign out
            </button>
          </li>
        </ul>
        <p class="whoami">
          {me.first_name} {me.last_name}
          <br />
          <span>{me.email}</span>
        </p>
      </nav>
    </aside>
  );
}

function SignedIn({ me, account }: { me: Me; account: Account }) {
  const { pathname } = useLocation();
  const first = SCREENS.find((s) => s.nav && allowed(s, me))!;
  useEffect(() => {
    if (pathname === "/" || pathname === "/sign-in" || pathname === "/sso/callback")
      navigate(first.path, { replace: true });
  }, [pathname]);
  let body: Child = <Empty title="No such page">Choose a page from the menu.</Empty>;
  let title = "Not found";
  for (const s of SCREENS) {
    const params = match(s.path, pathname);
    if (!params) continue;
    title = s.title;
    body = allowed(s, me) ? (
      s.render(params, me, account)
    ) : (
      <Empty title="You do not have access to this page">
        Ask an administrator of {account.name} for the permission it needs ({s.needs!.join(" or ")}
        ).
      </Empty>
    );
    break;
  }
  useEffect(() => {
    document.title = `${title} · ${account.name}`;
  }, [title]);
  return (
    <div class="shell">
      <a href="#main" class="skip">
        Skip to content
      </a>
      <Sidebar me={me} account={account} current={pathname} />
      <main id="main" tabIndex={-1}>
        {/* A new screen mounts afresh: no state or DOM of the previous one carries over. */}
        <div key={pathname}>{body}</div>
      </main>
    </div>
  );
}

export function App() {
  const state = useStore(session);
  const { pathname } = useLocation();
  if (pathname === "/sso/callback" && state.kind !== "signed-in") return <SsoCallback />;
  switch (state.kind) {
    case "loading":
      return (
        <div class="center">
          <Busy label="Loading the console…" />
        </div>
      );
    case "signed-out":
      return <SignInScreen notice={state.notice} />;
    case "must-change-password":
      return <ChangePasswordScreen email={state.email} />;
    case "signed-in":
      return <SignedIn me={state.me} account={state.account} />;
  }
}

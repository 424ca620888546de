#!/usr/bin/env node
// `npm run screenshots`: starts the real worker (wrangler's unstable_startWorker) on a fresh
// local state, seeds an enterprise account with users, groups, invitations, activity, a
// webhook and tokens, drives Debian's Chromium at desktop width through every console
// screen, and writes docs/screenshots/<screen>.png. `npm run screenshots` builds first.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { unstable_startWorker } from "wrangler";
import { consoleBuilt } from "./console-build.mjs";
import { readDevVars } from "./dev-vars.mjs";

const root = path.resolve(import.meta.dirname, "..");
const out = path.join(root, "docs", "screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const DEV_VARS = readDevVars();
const PASSWORD = "a screenshot administrator passphrase";
process.env.WRANGLER_SEND_METRICS = "false";
if (!consoleBuilt()) throw new Error("build the console first: npm run build");

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const base = `http://127.0.0.1:${port}`;
const persist = mkdtempSync(path.join(tmpdir(), "um-shots-"));
const migrated = spawnSync(
  path.join(root, "node_modules/.bin/wrangler"),
  ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist],
  { cwd: root, encoding: "utf8", env: { ...process.env, CI: "1" } },
);
if (migrated.status !== 0) throw new Error(migrated.stderr);

const worker = await unstable_startWorker({
  config: path.join(root, "wrangler.toml"),
  bindings: Object.fromEntries(
    Object.entries({ ...DEV_VARS, APP_URL: base }).map(([name, value]) => [
      name,
      { type: "plain_text", value },
    ]),
  ),
  build: {
    nodejsCompatMode: (config) =>
      config.compatibility_flags.includes("nodejs_compat") ? "v2" : null,
  },
  dev: {
    inspector: false,
    persist,
    watch: false,
    server: { hostname: "127.0.0.1", port },
    logLevel: "warn",
  },
});
await worker.ready;

async function api(method, route, { token, body } = {}) {
  const res = await fetch(base + route, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

let browser;
try {
  const email = "ada@northwind.example";
  await api("POST", "/v1/platform/accounts", {
    token: DEV_VARS.PLATFORM_ADMIN_TOKEN,
    body: {
      name: "Northwind Signage",
      plan: "enterprise",
      admin_email: email,
      admin_password: PASSWORD,
    },
  });
  const { access_token: token } = await api("POST", "/v1/auth/login", {
    body: { email, password: PASSWORD },
  });
  await api("PATCH", "/v1/me", { token, body: { first_name: "Ada", last_name: "Lovelace" } });
  const group = (name, description, grants) =>
    api("POST", "/v1/groups", { token, body: { name, description, grants } });
  const editors = await group("Content editors", "Publish playlists to the screens", [
    { permission: "users:read" },
    { permission: "content:write", scope: { content_types: ["playlist", "image"] } },
  ]);
  const support = await group("Support", "Help users and watch devices", [
    { permission: "users:read" },
    { permission: "users:reset_password" },
    { permission: "devices:read" },
    { permission: "activity:read" },
  ]);
  const people = [
    ["Grace", "Hopper", [editors.id]],
    ["Alan", "Turing", [support.id]],
    ["Katherine", "Johnson", [editors.id, support.id]],
    ["Edsger", "Dijkstra", []],
    ["Barbara", "Liskov", [editors.id]],
  ];
  for (const [first, last, groups] of people) {
    const userEmail = `${first.toLowerCase()}@northwind.example`;
    await api("POST", "/v1/users", {
      token,
      body: {
        email: userEmail,
        first_name: first,
        last_name: last,
        password: `${PASSWORD} ${first}`,
        group_ids: groups.length ? groups : undefined,
      },
    });
    if (first !== "Edsger")
      await api("POST", "/v1/auth/login", {
        body: { email: userEmail, password: `${PASSWORD} ${first}` },
      });
  }
  for (const invitee of ["margaret@northwind.example", "linus@northwind.example"])
    await api("POST", "/v1/invitations", {
      token,
      body: { email: invitee, group_ids: [editors.id] },
    });
  await api("POST", "/v1/webhooks", {
    token,
    body: {
      url: "https://hooks.northwind.example/users",
      events: ["user.created", "user.deleted"],
      description: "HR system",
    },
  });
  await api("POST", "/v1/scim-tokens", { token, body: { name: "Okta provisioning" } });
  await api("POST", "/v1/api-tokens", {
    token,
    body: { name: "Nightly export", permissions: ["activity:read", "users:read"] },
  });

  mkdirSync(out, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    locale: "en-GB",
  });
  const page = await context.newPage();
  const shot = async (name) => {
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
    console.log(`docs/screenshots/${name}.png`);
  };

  await page.goto(`${base}/sign-in`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await shot("sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();
  await page.getByRole("row").filter({ hasText: "Grace" }).waitFor();
  await shot("users");

  const go = async (heading) => {
    await page
      .getByRole("navigation", { name: "Console" })
      .getByRole("link", { name: heading, exact: true })
      .click();
    await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
  };
  await page.getByRole("link", { name: "Grace Hopper" }).click();
  await page.getByRole("heading", { name: "Grace Hopper", level: 1 }).waitFor();
  await page.getByText("Recent activity").waitFor();
  await shot("user");

  await go("User Invites");
  await page.getByRole("button", { name: "INVITE", exact: true }).click();
  await page.getByLabel("Email").fill("new.colleague@northwind.example");
  await page.getByLabel("Content editors").check();
  await shot("user-invites");

  await go("Groups");
  await shot("groups");
  await page.getByRole("link", { name: "Content editors" }).click();
  await page.getByRole("heading", { name: "Content editors", level: 1 }).waitFor();
  await shot("group");

  await go("Billing & Limits");
  await shot("billing-and-limits");
  await go("Activity");
  await page.getByRole("row").nth(3).waitFor();
  await shot("activity");
  await go("Team Login");
  await page.getByText("Okta provisioning").waitFor();
  await shot("team-login");
  await go("Webhooks");
  await shot("webhooks");
  await go("API tokens");
  await shot("api-tokens");
  await go("Profile");
  await page.getByText("This browser").waitFor();
  await shot("profile");

  await page.setViewportSize({ width: 390, height: 844 });
  await go("Users").catch(async () => {
    await page.getByRole("button", { name: "Menu" }).click();
    await go("Users");
  });
  await shot("users-phone");
} finally {
  await browser?.close();
  await worker.dispose();
  rmSync(persist, { recursive: true, force: true });
}

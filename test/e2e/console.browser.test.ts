/**
 * The admin console in headless Chromium against a real worker: sign in, invite through
 * Settings → User Invites, the invitee activates from the captured mail in another browser,
 * appears in Users, is moved to another group, the change shows in Activity; inviting past
 * the plan's limit names whom to ask; a member without users:write sees no INVITE button.
 */
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { browserUnavailable, type LaunchedBrowser, launchBrowser } from "./browser";
import { api, newAccount, type StartedWorker, startWorker } from "./harness";
import {
  type CapturedMessage,
  type PostmarkCapture,
  startPostmarkCapture,
} from "./postmark-capture";

const SERVER_TOKEN = "e2e-console-postmark-token";
const INVITEE_PASSWORD = "a console invitee passphrase that is long";
const MAIL_WAIT_MS = 15_000;
const unavailable = browserUnavailable();

let worker: StartedWorker;
let capture: PostmarkCapture;
let chromium: LaunchedBrowser;
let admin: Awaited<ReturnType<typeof newAccount>>;
const contexts: BrowserContext[] = [];
let problems: string[] = [];
let seq = 0;
const uniqueEmail = (what: string) => `${what}-${++seq}-${Date.now()}@e2e.example`;

function activationLink(mail: CapturedMessage): string {
  const body = mail.TextBody ?? mail.HtmlBody ?? "";
  const found = /https?:\/\/[^\s"<]+\/activate\?token=[A-Za-z0-9_.~%-]+/.exec(body);
  expect(found, `no activation link in:\n${body}`).not.toBeNull();
  return found![0];
}

async function openPage(): Promise<Page> {
  const context = await chromium.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    // A refused API call shows in the page as words; Chromium also logs it as a failed load.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource"))
      problems.push(`console: ${msg.text()}`);
  });
  return page;
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${worker.url}/`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();
}

/** A link of the console's sidebar. */
const nav = (page: Page, name: string) =>
  page.getByRole("navigation", { name: "Console" }).getByRole("link", { name, exact: true });

async function invite(page: Page, email: string, group?: string) {
  await page.getByRole("button", { name: "INVITE", exact: true }).click();
  await page.getByLabel("Email").fill(email);
  if (group) await page.getByLabel(group).check();
  await page.getByRole("button", { name: "INVITE USER" }).click();
}

describe.skipIf(!!unavailable)(
  unavailable
    ? `console in Chromium (SKIPPED: ${unavailable})`
    : "the admin console in headless Chromium",
  () => {
    let editors: string;
    let viewers: string;

    beforeAll(async () => {
      capture = await startPostmarkCapture({ token: SERVER_TOKEN });
      worker = await startWorker({
        vars: { POSTMARK_SERVER_TOKEN: SERVER_TOKEN, POSTMARK_API_URL: capture.url },
      });
      // The free plan: three seats, so the limit is reached within the test.
      admin = await newAccount(worker.url, { name: "Console Co", plan: "free" });
      const group = async (name: string) => {
        const res = await api(worker.url, "POST", "/v1/groups", {
          token: admin.token,
          body: { name, grants: [{ permission: "users:read" }] },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        return res.body.id as string;
      };
      editors = await group("Editors");
      viewers = await group("Viewers");
      chromium = await launchBrowser();
    });

    afterEach(() => {
      const seen = problems;
      problems = [];
      expect(seen, "the page reported errors").toEqual([]);
    });

    afterAll(async () => {
      try {
        await Promise.allSettled(contexts.map((c) => c.close()));
        await chromium?.close();
      } finally {
        try {
          await worker?.dispose();
        } finally {
          await capture?.close();
        }
      }
    });

    it("the server pages, the API and the console share one origin: the console at /, the API still the worker's", async () => {
      const root = await fetch(`${worker.url}/users`);
      expect(root.status).toBe(200);
      expect(await root.text()).toContain('<div id="app">');
      const health = await fetch(`${worker.url}/health`);
      expect(await health.json()).toEqual({ status: "ok" });
      const missing = await fetch(`${worker.url}/v1/nothing-here`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get("content-type")).toMatch(/problem\+json/);
    });

    it("invites a user who activates, appears in Users, moves group, shows in Activity; the limit names whom to ask; a member sees no INVITE", async () => {
      const page = await openPage();
      await signIn(page, admin.email, admin.password);
      // The refresh token never reaches script: no storage holds it, and the cookie is httpOnly.
      expect(
        await page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"),
      ).toBe("{}{}");
      expect(await page.evaluate("document.cookie")).toBe("");
      const cookies = await page.context().cookies(`${worker.url}/v1/auth/cookie/refresh`);
      expect(cookies).toEqual([
        expect.objectContaining({
          name: "console_refresh",
          httpOnly: true,
          sameSite: "Strict",
          path: "/v1/auth/cookie",
        }),
      ]);

      // Settings → User Invites → INVITE → email and group → INVITE USER.
      await nav(page, "User Invites").click();
      await page.getByRole("heading", { name: "User Invites", level: 1 }).waitFor();
      const email = uniqueEmail("grace");
      await invite(page, email, "Editors");
      await page.getByText(`Invitation sent to ${email}.`).waitFor();
      await page.getByRole("cell", { name: email, exact: true }).waitFor();

      // The activation link from the captured mail, in a second browser context.
      const mail = await capture.waitForMessage(
        (m) => m.To === email && m.Tag === "invitation",
        MAIL_WAIT_MS,
      );
      const invitee = await openPage();
      await invitee.goto(activationLink(mail));
      await invitee.getByLabel("First name").fill("Grace");
      await invitee.getByLabel("Last name").fill("Hopper");
      await invitee.getByLabel("Password", { exact: true }).fill(INVITEE_PASSWORD);
      await invitee.getByRole("button", { name: "Activate account" }).click();
      await invitee.getByRole("heading", { name: "Welcome, Grace" }).waitFor();
      const dashboard = invitee.getByRole("link", { name: "Go to the dashboard" });
      expect(await dashboard.getAttribute("href")).toBe(`${worker.url}/sign-in`);

      // The new user appears in Users, with their group.
      await nav(page, "Users").click();
      const row = page.getByRole("row").filter({ hasText: email });
      await row.waitFor();
      expect(await row.innerText()).toContain("Editors");
      expect(await row.innerText()).toContain("active");

      // Move them to another group on their page.
      await row.getByRole("link", { name: "Grace Hopper" }).click();
      await page.getByRole("heading", { name: "Grace Hopper", level: 1 }).waitFor();
      await page.getByLabel("Editors").uncheck();
      await page.getByLabel("Viewers").check();
      const saved = page.waitForResponse(
        (r) => r.url().endsWith("/groups") && r.request().method() === "PUT",
      );
      await page.getByRole("button", { name: "Save groups" }).click();
      expect((await saved).status()).toBe(200);
      await page.getByText("Groups saved.").waitFor();
      const user = await api(worker.url, "GET", `/v1/users?q=${encodeURIComponent(email)}`, {
        token: admin.token,
      });
      expect(user.body.data[0].group_ids).toContain(viewers);
      expect(user.body.data[0].group_ids).not.toContain(editors);

      // The change appears in Activity.
      await nav(page, "Activity").click();
      await page.getByRole("heading", { name: "Activity", level: 1 }).waitFor();
      await page.getByRole("row").filter({ hasText: "user.groups_changed" }).first().waitFor();

      // Invite until the plan's limit: admin + Grace + one more fill the free plan's three seats.
      await nav(page, "User Invites").click();
      const third = uniqueEmail("third");
      await invite(page, third);
      await page.getByText(`Invitation sent to ${third}.`).waitFor();
      await invite(page, uniqueEmail("fourth"));
      const refusal = page.getByRole("alert");
      await refusal.waitFor();
      expect(await refusal.innerText()).toBe(
        "Your free plan allows 3 users, and all of them are in use. To raise the limit, contact support.",
      );

      // A member without users:write (Grace: Members and Viewers) sees no INVITE button.
      const member = await openPage();
      await signIn(member, email, INVITEE_PASSWORD);
      await member.getByRole("row").filter({ hasText: admin.email }).waitFor();
      expect(await member.getByRole("button", { name: "INVITE", exact: true }).count()).toBe(0);
      expect(await nav(member, "User Invites").count()).toBe(0);
      await member.goto(`${worker.url}/settings/invites`);
      await member.getByText("You do not have access to this page").waitFor();
      expect(await member.getByRole("button", { name: "INVITE", exact: true }).count()).toBe(0);

      // Sign out ends the session: a reload lands on the sign-in form.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.reload();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
    });
  },
);

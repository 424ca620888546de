/**
 * The three link pages (activation, password reset, email verification) in a real browser:
 * headless Chromium from Debian's `chromium` package, driven by `playwright-core`, against a
 * real local worker (test/e2e/harness.ts) whose mail goes through the real postmark client
 * to the capture server. Each test follows the link from the mail the service sent, types
 * into the form, submits, and sees the error inline, then success; the result is checked
 * over HTTP (logging in).
 *
 * Skipped, saying why, only when /usr/bin/chromium is missing; `.ci/run` installs it and
 * sets REQUIRE_CHROMIUM=1, so in CI a missing browser fails the run instead of skipping.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BrowserContext, Page, Response } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { browserUnavailable, type LaunchedBrowser, launchBrowser } from "./browser";
import { api, newAccount, type StartedWorker, startWorker } from "./harness";
import {
  type CapturedMessage,
  type PostmarkCapture,
  startPostmarkCapture,
} from "./postmark-capture";

const SERVER_TOKEN = "e2e-browser-postmark-token";
const ACCOUNT_NAME = "Lovelace & Babbage Browser";
const STRONG = "a long and unusual analytical engine passphrase";
const STRONG_2 = "seven quiet herons over the estuary at dusk";
const MAIL_WAIT_MS = 15_000;

const unavailable = browserUnavailable();
if (unavailable && process.env.REQUIRE_CHROMIUM) {
  throw new Error(`REQUIRE_CHROMIUM is set but ${unavailable}`);
}
if (unavailable) console.warn(`[pages.browser.test] SKIPPED: ${unavailable}`);

let capture: PostmarkCapture;
let worker: StartedWorker;
let admin: Awaited<ReturnType<typeof newAccount>>;
let chromium: LaunchedBrowser;
let shots: string;

let seq = 0;
const uniqueEmail = (what: string) => `${what}-${++seq}-${Date.now()}@e2e.example`;

/** The link to `pathname` in a captured mail (text part), under this worker's APP_URL. */
function linkIn(mail: CapturedMessage, pathname: string): string {
  const body = mail.TextBody ?? mail.HtmlBody ?? "";
  const escaped = (worker.url + pathname).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const found = new RegExp(`${escaped}\\?token=[A-Za-z0-9_.~%-]+`).exec(body);
  expect(found, `no ${worker.url}${pathname}?token= link in:\n${body}`).not.toBeNull();
  return found![0];
}

/** An active user with a password, created by the admin over HTTP. */
async function newUser(first: string, last: string, password: string) {
  const email = uniqueEmail(first.toLowerCase());
  const created = await api(worker.url, "POST", "/v1/users", {
    token: admin.token,
    body: { email, first_name: first, last_name: last, password },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { email, id: created.body.id as string };
}

const login = (email: string, password: string) =>
  api(worker.url, "POST", "/v1/auth/login", { body: { email, password } });

// ---- the browser side ----------------------------------------------------------------

const PAGE_PATHS = new Set(["/activate", "/reset-password", "/verify-email"]);
let context: BrowserContext | undefined;
/** Problems the page reported (script errors, console errors such as CSP refusals). */
let pageProblems: string[] = [];

async function openPage(): Promise<Page> {
  context = await chromium.newContext();
  const page = await context.newPage();
  page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    // Chromium logs a page answered with 4xx (the form with an error, a dead link) as a failed
    // load of that document; the tests check those statuses themselves.
    const at = msg.location().url;
    if (
      msg.text().startsWith("Failed to load resource: the server responded with a status of 4") &&
      PAGE_PATHS.has(at && new URL(at).pathname)
    )
      return;
    pageProblems.push(`console: ${msg.text()} (${at})`);
  });
  return page;
}

async function goto(page: Page, url: string): Promise<Response> {
  const response = await page.goto(url, { waitUntil: "load" });
  expect(response, `no response for ${url}`).not.toBeNull();
  return response!;
}

/**
 * Clicks the submit button and waits (bounded by the context's timeouts) for the POST's
 * answer and for the page it returns to be loaded in place of the link's page.
 */
async function submit(page: Page, button: string, pathname: string): Promise<Response> {
  // Armed before the click: the next `load` is the new document's (the current one has loaded).
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => new URL(r.url()).pathname === pathname && r.request().method() === "POST",
    ),
    page.waitForEvent("load"),
    page.getByRole("button", { name: button }).click(),
  ]);
  const landed = new URL(page.url());
  expect(`${landed.pathname}${landed.search}`).toBe(pathname); // the token stays out of the address bar
  return response;
}

const heading = (page: Page) => page.getByRole("heading", { level: 1 }).innerText();
const mainText = (page: Page) => page.locator("main").innerText();

/**
 * The field's inline error: the input is marked invalid and described by a visible
 * message placed right under it (above the next field or the button). Returns the message.
 */
async function inlineError(page: Page, fieldId: string): Promise<string> {
  const input = page.locator(`#${fieldId}`);
  const error = page.locator(`#${fieldId}-error`);
  await error.waitFor({ state: "visible" });
  expect(await input.getAttribute("aria-invalid")).toBe("true");
  const describedBy = ((await input.getAttribute("aria-describedby")) ?? "").split(/\s+/);
  expect(describedBy).toContain(`${fieldId}-error`);
  // Next to the field: below the input, with nothing of the form in between.
  const inputBox = (await input.boundingBox())!;
  const errorBox = (await error.boundingBox())!;
  const buttonBox = (await page.locator("form button[type=submit]").boundingBox())!;
  expect(errorBox.y).toBeGreaterThanOrEqual(inputBox.y + inputBox.height);
  expect(errorBox.y - (inputBox.y + inputBox.height)).toBeLessThan(80);
  expect(errorBox.y + errorBox.height).toBeLessThanOrEqual(buttonBox.y);
  // (Browser-side code as a string: the project's TypeScript has no DOM library.)
  const between = await page.evaluate(`(() => {
    const input = document.getElementById(${JSON.stringify(fieldId)});
    const error = document.getElementById(${JSON.stringify(`${fieldId}-error`)});
    const after = (a, b) => Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    return [...document.querySelectorAll("form input:not([type=hidden]), form button")]
      .filter((f) => f !== input && after(input, f) && after(f, error)).length;
  })()`);
  expect(between).toBe(0);
  // Shown in the error colour, not hidden or blank.
  expect(
    await page.evaluate(
      `getComputedStyle(document.getElementById(${JSON.stringify(`${fieldId}-error`)})).color`,
    ),
  ).toBe("rgb(185, 28, 28)");
  const message = (await error.innerText()).trim();
  expect(message).not.toBe("");
  return message;
}

/** A PNG signature and an IHDR with a non-zero size. */
function expectPng(bytes: Buffer) {
  expect(bytes.length).toBeGreaterThan(1000);
  expect(bytes.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  expect(bytes.subarray(12, 16).toString("latin1")).toBe("IHDR");
  expect(bytes.readUInt32BE(16)).toBeGreaterThan(0);
  expect(bytes.readUInt32BE(20)).toBeGreaterThan(0);
}

describe.skipIf(!!unavailable)(
  unavailable
    ? `link pages in Chromium (SKIPPED: ${unavailable})`
    : "link pages in headless Chromium",
  () => {
    beforeAll(async () => {
      shots = await mkdtemp(path.join(tmpdir(), "um-e2e-shots-"));
      capture = await startPostmarkCapture({ token: SERVER_TOKEN });
      worker = await startWorker({
        vars: { POSTMARK_SERVER_TOKEN: SERVER_TOKEN, POSTMARK_API_URL: capture.url },
      });
      admin = await newAccount(worker.url, { name: ACCOUNT_NAME });
      chromium = await launchBrowser();
    });

    afterEach(async () => {
      await context?.close();
      context = undefined;
      const problems = pageProblems;
      pageProblems = [];
      expect(problems, "the page reported errors").toEqual([]);
    });

    afterAll(async () => {
      // Each step runs even when an earlier one fails.
      try {
        await chromium?.close();
      } finally {
        try {
          await worker?.dispose();
        } finally {
          try {
            await capture?.close();
          } finally {
            if (shots && !process.env.E2E_KEEP_SCREENSHOTS)
              await rm(shots, { recursive: true, force: true });
          }
        }
      }
    });

    it("activation: the invitation link, a weak password shown inline with the names kept, then a strong one", async () => {
      const email = uniqueEmail("invitee");
      const invited = await api(worker.url, "POST", "/v1/invitations", {
        token: admin.token,
        body: { email },
      });
      expect(invited.status, JSON.stringify(invited.body)).toBe(201);
      expect(invited.body.email_delivery).toBe("queued");
      const mail = await capture.waitForMessage(
        (m) => m.To === email && m.Tag === "invitation",
        MAIL_WAIT_MS,
      );
      const link = linkIn(mail, "/activate");

      const page = await openPage();
      const opened = await goto(page, link);
      expect(opened.status()).toBe(200);
      expect(await page.title()).toBe(`Join ${ACCOUNT_NAME}`);
      expect(await heading(page)).toBe(`Join ${ACCOUNT_NAME}`);
      expect(await page.locator("main strong").first().innerText()).toBe(email);
      expect(await page.locator("#password").getAttribute("aria-invalid")).toBeNull();
      expect(await page.locator("#password-error").count()).toBe(0);

      // A password under the minimum length: refused, inline, with what was typed kept.
      await page.getByLabel("First name").fill("Grace");
      await page.getByLabel("Last name").fill("Hopper");
      await page.getByLabel("Password", { exact: true }).fill("too short");
      const weak = await submit(page, "Activate account", "/activate");
      expect(weak.status()).toBe(422);
      expect(await inlineError(page, "password")).toBe("Password must be at least 15 characters.");
      expect((await page.getByRole("alert").innerText()).trim()).toBe(
        "Please choose a different password.",
      );
      expect(await page.getByLabel("First name").inputValue()).toBe("Grace");
      expect(await page.getByLabel("Last name").inputValue()).toBe("Hopper");
      expect(await page.locator("#first_name").getAttribute("aria-invalid")).toBeNull();
      expect(await page.getByLabel("Password", { exact: true }).inputValue()).toBe(""); // never echoed back
      expect(await mainText(page)).toContain(email);

      const shot = path.join(shots, "activation-weak-password.png");
      await page.screenshot({ path: shot, fullPage: true });
      expectPng(await readFile(shot));
      expectPng(await page.locator("main").screenshot());

      // Nothing was created yet: the invitation is still pending.
      expect((await login(email, "too short")).status).toBe(401);

      // A strong password: the account is activated.
      await page.getByLabel("Password", { exact: true }).fill(STRONG);
      const done = await submit(page, "Activate account", "/activate");
      expect(done.status()).toBe(200);
      expect(await page.title()).toBe("Account activated");
      expect(await heading(page)).toBe("Welcome, Grace");
      expect(await page.getByRole("status").innerText()).toContain(email);
      expect(
        await page.getByRole("link", { name: "Go to the dashboard" }).getAttribute("href"),
      ).toBe(`${worker.url}/sign-in`);

      const signedIn = await login(email, STRONG);
      expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
      expect(signedIn.body.user).toMatchObject({
        email,
        first_name: "Grace",
        last_name: "Hopper",
        status: "active",
      });

      // The link worked once.
      const again = await goto(page, link);
      expect(again.status()).toBe(404);
      expect(await heading(page)).toBe("This invitation link is not valid");
    });

    it("reset password: the mailed link, a weak password shown inline, then a strong one; only the new password works", async () => {
      const OLD = "the original passphrase of this user";
      const user = await newUser("Katherine", "Johnson", OLD);
      const session = await login(user.email, OLD);
      expect(session.status).toBe(200);

      const forgot = await api(worker.url, "POST", "/v1/password/forgot", {
        body: { email: user.email },
      });
      expect(forgot.status, JSON.stringify(forgot.body)).toBe(202);
      // The mail goes after the response (waitUntil): wait for it, within a bound.
      const mail = await capture.waitForMessage(
        (m) => m.To === user.email && m.Tag === "password-reset",
        MAIL_WAIT_MS,
      );
      const link = linkIn(mail, "/reset-password");

      const page = await openPage();
      const opened = await goto(page, link);
      expect(opened.status()).toBe(200);
      expect(await heading(page)).toBe("Choose a new password");
      expect(await mainText(page)).toContain(user.email);

      // A common password that passes the length rule: refused inline.
      await page.getByLabel("New password").fill("passwordpassword");
      const weak = await submit(page, "Set new password", "/reset-password");
      expect(weak.status()).toBe(422);
      expect(await inlineError(page, "new_password")).toBe(
        "Password is too common or too easy to guess.",
      );
      expect((await page.getByRole("alert").innerText()).trim()).toBe(
        "Please choose a different password.",
      );
      expect(await page.getByLabel("New password").inputValue()).toBe("");
      // The refused attempt changed nothing.
      expect((await login(user.email, OLD)).status).toBe(200);

      await page.getByLabel("New password").fill(STRONG_2);
      const done = await submit(page, "Set new password", "/reset-password");
      expect(done.status()).toBe(200);
      expect(await heading(page)).toBe("Password changed");
      expect(await page.getByRole("status").innerText()).toContain(
        "Sign in with your new password",
      );

      const withNew = await login(user.email, STRONG_2);
      expect(withNew.status, JSON.stringify(withNew.body)).toBe(200);
      const withOld = await login(user.email, OLD);
      expect(withOld.status).toBe(401);
      expect(withOld.body.code).toBe("invalid_credentials");
      // Sessions from before the reset ended with it.
      const refreshed = await api(worker.url, "POST", "/v1/auth/refresh", {
        body: { refresh_token: session.body.refresh_token },
      });
      expect(refreshed.status).toBe(401);

      // The link worked once.
      const again = await goto(page, link);
      expect(again.status()).toBe(404);
      expect(await heading(page)).toBe("This link is not valid");
    });

    it("verify email: the link shows the new address and a button; confirming switches the sign-in email; a used link is not valid", async () => {
      const PASSWORD = "a passphrase for the email change test";
      const user = await newUser("Dorothy", "Vaughan", PASSWORD);
      const session = await login(user.email, PASSWORD);
      expect(session.status).toBe(200);
      const newEmail = uniqueEmail("dorothy-new");

      const patched = await api(worker.url, "PATCH", "/v1/me", {
        token: session.body.access_token,
        body: { email: newEmail, current_password: PASSWORD },
      });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      expect(patched.body).toMatchObject({ email: user.email, pending_email: newEmail });
      const mail = await capture.waitForMessage(
        (m) => m.To === newEmail && m.Tag === "email-verification",
        MAIL_WAIT_MS,
      );
      const link = linkIn(mail, "/verify-email");

      const page = await openPage();
      const opened = await goto(page, link);
      expect(opened.status()).toBe(200);
      expect(await heading(page)).toBe("Confirm your new email address");
      expect(await page.locator("main strong").first().innerText()).toBe(newEmail);
      expect(await mainText(page)).toContain(`instead of ${user.email}`);
      const confirm = page.getByRole("button", { name: `Confirm ${newEmail}` });
      expect(await confirm.isVisible()).toBe(true);

      // Opening the link changed nothing: still the current email until the button is pressed.
      expect((await login(newEmail, PASSWORD)).status).toBe(401);
      expect((await login(user.email, PASSWORD)).status).toBe(200);

      const done = await submit(page, `Confirm ${newEmail}`, "/verify-email");
      expect(done.status()).toBe(200);
      expect(await heading(page)).toBe("Email address confirmed");
      expect(await page.getByRole("status").innerText()).toContain(newEmail);

      const withNew = await login(newEmail, PASSWORD);
      expect(withNew.status, JSON.stringify(withNew.body)).toBe(200);
      expect(withNew.body.user).toMatchObject({
        id: user.id,
        email: newEmail,
        pending_email: null,
      });
      expect((await login(user.email, PASSWORD)).status).toBe(401);
      // The old address was told.
      await capture.waitForMessage(
        (m) => m.To === user.email && m.Tag === "email-changed",
        MAIL_WAIT_MS,
      );

      // The used link, opened again in a fresh browser context.
      await context!.close();
      const page2 = await openPage();
      const again = await goto(page2, link);
      expect(again.status()).toBe(404);
      expect(await page2.title()).toBe("This link is not valid");
      expect(await heading(page2)).toBe("This link is not valid");
      expect(await page2.getByRole("alert").isVisible()).toBe(true);
      expect(await page2.getByRole("button").count()).toBe(0);
    });
  },
);

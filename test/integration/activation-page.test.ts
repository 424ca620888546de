/**
 * The activation page: the invited person sets
 * names and password in a browser. Pages are parsed with the runtime's HTMLRewriter.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { clock } from "../../src/lib/clock";
import {
  call,
  count,
  createAccount,
  login,
  newMail,
  PASSWORD,
  PLATFORM_TOKEN,
  type Reply,
  rows,
  type TestAccount,
  uniqueEmail,
} from "../helpers";

afterEach(() => {
  clock.offsetMs = 0;
});

const invitationRow = async (id: string) =>
  (await rows("SELECT * FROM invitations WHERE id = ?", id))[0]!;

interface El {
  tag: string;
  attrs: Record<string, string>;
  /** The element's text content, entities decoded. */
  text: string;
}

const decodeEntities = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos|#39);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (e[0] !== "#") return named[e.toLowerCase()]!;
    return String.fromCodePoint(
      e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10),
    );
  });

const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "track",
  "wbr",
]);

/** Every element of the page, in document order, with its attributes and text. */
async function parse(html: string): Promise<El[]> {
  const all: El[] = [];
  const open: El[] = [];
  await new HTMLRewriter()
    .on("*", {
      element(e) {
        const el: El = {
          tag: e.tagName,
          attrs: Object.fromEntries(
            [...e.attributes].map(([k, v]) => [k!, decodeEntities(v ?? "")]),
          ),
          text: "",
        };
        all.push(el);
        if (!VOID.has(e.tagName)) {
          open.push(el);
          e.onEndTag(() => {
            open.splice(open.lastIndexOf(el), 1);
          });
        }
      },
    })
    .onDocument({
      text(t) {
        for (const el of open) el.text += decodeEntities(t.text);
      },
    })
    .transform(new Response(html))
    .text();
  return all;
}

interface Page {
  status: number;
  headers: Headers;
  els: El[];
  /** The first element matching. */
  one(tag: string, attrs?: Record<string, string>): El | undefined;
  all(tag: string, attrs?: Record<string, string>): El[];
  text: string;
}

async function asPage(res: Reply): Promise<Page> {
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  const els = await parse(String(res.body));
  const all = (tag: string, attrs: Record<string, string> = {}) =>
    els.filter((e) => e.tag === tag && Object.entries(attrs).every(([k, v]) => e.attrs[k] === v));
  return {
    status: res.status,
    headers: res.headers,
    els,
    all,
    one: (tag, attrs) => all(tag, attrs)[0],
    text: (els.find((e) => e.tag === "main")?.text ?? "").replace(/\s+/g, " "),
  };
}

const getPage = async (token: string) =>
  asPage(await call("GET", `/activate?token=${encodeURIComponent(token)}`));
const postPage = async (fields: Record<string, string>) =>
  asPage(
    await call("POST", "/activate", {
      raw: new URLSearchParams(fields).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
  );

function expectSafeHeaders(page: Page) {
  const csp = page.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("form-action 'self'");
  expect(page.headers.get("referrer-policy")).toBe("no-referrer");
  expect(page.headers.get("cache-control")).toBe("no-store");
  // Nothing loaded from elsewhere, nothing run.
  expect(page.all("script")).toEqual([]);
  expect(page.els.filter((e) => e.attrs.src !== undefined)).toEqual([]);
}

/** The input named `name`, checked to have a visible label pointing at it. */
function labelled(page: Page, name: string, label: string) {
  const input = page.one("input", { name });
  expect(input, `input ${name}`).toBeDefined();
  expect(input!.attrs.id).toBeTruthy();
  const lbl = page.one("label", { for: input!.attrs.id! });
  expect(lbl?.text.trim()).toBe(label);
  return input!;
}

/** The link in the invitation mail, which the queue sends after the answer. */
async function outboxToken(email: string) {
  const prefix = `${env.APP_URL.replace(/\/$/, "")}/activate?token=`;
  const { text } = await newMail(email, []);
  const at = text.indexOf(prefix);
  expect(at).toBeGreaterThanOrEqual(0);
  return decodeURIComponent(/^[^\s]+/.exec(text.slice(at + prefix.length))![0]);
}

async function invite(acct: TestAccount) {
  const email = uniqueEmail("invitee");
  const res = await call("POST", "/v1/invitations", { token: acct.token, body: { email } });
  expect(res.status).toBe(201);
  return {
    id: res.body.id as string,
    email,
    expiresAt: res.body.expires_at as string,
    token: await outboxToken(email),
  };
}

const form = (token: string, extra: Record<string, string> = {}) => ({
  token,
  first_name: "Grace",
  last_name: "Hopper",
  password: PASSWORD,
  ...extra,
});

describe("GET /activate", () => {
  it("shows the account, the email and a labelled form, with strict headers", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const page = await getPage(inv.token);
    expect(page.status).toBe(200);
    expectSafeHeaders(page);
    expect(page.one("html")?.attrs.lang).toBe("en");
    expect(page.one("title")?.text).toContain("Acme Signage");
    expect(page.one("h1")?.text).toContain("Acme Signage");
    expect(page.text).toContain(inv.email);
    expect(page.text).toContain(new Date(inv.expiresAt).toUTCString());

    const f = page.one("form");
    expect(f?.attrs).toMatchObject({ method: "post", action: "/activate" });
    expect(page.one("input", { type: "hidden", name: "token" })?.attrs.value).toBe(inv.token);
    expect(labelled(page, "first_name", "First name").attrs).toMatchObject({
      type: "text",
      autocomplete: "given-name",
    });
    expect(labelled(page, "last_name", "Last name").attrs).toMatchObject({
      type: "text",
      autocomplete: "family-name",
    });
    const password = labelled(page, "password", "Password");
    expect(password.attrs).toMatchObject({ type: "password", autocomplete: "new-password" });
    expect(password.attrs["aria-invalid"]).toBeUndefined();
    const hint = page.one("p", { id: password.attrs["aria-describedby"]! });
    expect(hint?.text).toMatch(/15 characters/);
    expect(page.one("button", { type: "submit" })).toBeDefined();

    // Looking does not use the link up.
    expect((await getPage(inv.token)).status).toBe(200);
    expect((await invitationRow(inv.id)).status).toBe("pending");
  });

  it("escapes what the account and the invitee chose", async () => {
    const name = `<img src=x onerror=alert(1)> "Acme" & Co`;
    const acct = await createAccount("enterprise", name);
    const inv = await invite(acct);
    const page = await getPage(inv.token);
    expect(page.status).toBe(200);
    expect(page.all("img")).toEqual([]);
    expect(page.one("h1")?.text).toBe(`Join ${name}`);
    const mail = (
      await call("GET", `/v1/dev/outbox?to=${encodeURIComponent(inv.email)}`, {
        token: PLATFORM_TOKEN,
      })
    ).body.data[0];
    const mailEls = await parse(mail.html);
    expect(mailEls.filter((e) => e.tag === "img")).toEqual([]);
    expect(mailEls.find((e) => e.tag === "h1")?.text).toBe(`Join ${name}`);
  });

  it("answers a 404 page for a missing, unknown, used or revoked link", async () => {
    const acct = await createAccount();
    const used = await invite(acct);
    expect((await call("POST", "/v1/invitations/accept", { body: form(used.token) })).status).toBe(
      201,
    );
    const revoked = await invite(acct);
    expect(
      (await call("DELETE", `/v1/invitations/${revoked.id}`, { token: acct.token })).status,
    ).toBe(204);
    const unknown = used.token.slice(0, -4) + (used.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    for (const token of ["", "nonsense", unknown, used.token, revoked.token]) {
      const page = await getPage(token);
      expect(page.status).toBe(404);
      expectSafeHeaders(page);
      expect(page.one("h1")?.text).toMatch(/not valid/);
      expect(page.one("p", { role: "alert" })?.text).toBeTruthy();
      expect(page.all("form")).toEqual([]);
    }
  });

  it("answers a 410 page once the link has expired, and records the expiry once", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    clock.offsetMs = Date.parse(inv.expiresAt) - Date.now() + 60_000;
    for (let i = 0; i < 2; i++) {
      const page = await getPage(inv.token);
      expect(page.status).toBe(410);
      expectSafeHeaders(page);
      expect(page.one("h1")?.text).toMatch(/expired/);
      expect(page.all("form")).toEqual([]);
    }
    expect((await invitationRow(inv.id)).status).toBe("expired");
    expect(
      await count(
        "SELECT count(*) AS n FROM activity_events WHERE subject_id = ? AND type = 'invitation.expired'",
        inv.id,
      ),
    ).toBe(1);
    const posted = await postPage(form(inv.token));
    expect(posted.status).toBe(410);
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(0);
  });
});

describe("POST /activate", () => {
  it("shows a weak password's problem next to the field, keeps the names, and creates nothing", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const eventsBefore = await count(
      "SELECT count(*) AS n FROM activity_events WHERE account_id = ?",
      acct.accountId,
    );
    const weak = "short pass";
    const page = await postPage(
      form(inv.token, { first_name: "Grace", last_name: "Hopper", password: weak }),
    );
    expect(page.status).toBe(422);
    expectSafeHeaders(page);
    expect(page.one("div", { role: "alert" })?.text).toBeTruthy();

    const password = labelled(page, "password", "Password");
    expect(password.attrs["aria-invalid"]).toBe("true");
    expect(password.attrs.value ?? "").toBe(""); // never echoed back
    const describedBy = (password.attrs["aria-describedby"] ?? "").split(" ");
    const error = page.els.find(
      (e) =>
        e.attrs.id !== undefined && describedBy.includes(e.attrs.id) && e.attrs.class === "error",
    );
    // The same explanation the API gives for this password.
    const api = await call("POST", "/v1/invitations/accept", {
      body: form(inv.token, { password: weak }),
    });
    expect(api.status).toBe(422);
    expect(error?.text).toBe(api.body.detail);
    // The error sits right after the password field, not elsewhere on the page.
    const at = (el: El) => page.els.indexOf(el);
    expect(at(error!)).toBeGreaterThan(at(password));
    expect(page.els.slice(at(password) + 1, at(error!)).every((e) => e.tag !== "input")).toBe(true);

    expect(labelled(page, "first_name", "First name").attrs).toMatchObject({ value: "Grace" });
    expect(labelled(page, "first_name", "First name").attrs["aria-invalid"]).toBeUndefined();
    expect(labelled(page, "last_name", "Last name").attrs).toMatchObject({ value: "Hopper" });
    expect(page.one("input", { name: "token" })?.attrs.value).toBe(inv.token);

    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(0);
    expect(await invitationRow(inv.id)).toMatchObject({ status: "pending", user_id: null });
    expect(
      await count("SELECT count(*) AS n FROM activity_events WHERE account_id = ?", acct.accountId),
    ).toBe(eventsBefore);
    expect((await getPage(inv.token)).status).toBe(200);
  });

  it("asks for missing names inline", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const page = await postPage(form(inv.token, { first_name: "  ", last_name: "Hopper" }));
    expect(page.status).toBe(422);
    const first = labelled(page, "first_name", "First name");
    expect(first.attrs["aria-invalid"]).toBe("true");
    expect(page.one("p", { id: "first_name-error" })?.text).toBeTruthy();
    expect(first.attrs["aria-describedby"]).toContain("first_name-error");
    expect(labelled(page, "last_name", "Last name").attrs["aria-invalid"]).toBeUndefined();
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(0);
  });

  it("holds names to the same limits as the API", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const long = "G".repeat(101);
    expect(
      (await call("POST", "/v1/invitations/accept", { body: form(inv.token, { last_name: long }) }))
        .status,
    ).toBe(422);
    const page = await postPage(form(inv.token, { last_name: long }));
    expect(page.status).toBe(422);
    const last = labelled(page, "last_name", "Last name");
    expect(last.attrs["aria-invalid"]).toBe("true");
    expect(page.one("p", { id: "last_name-error" })?.text).toBeTruthy();
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(0);
    expect((await invitationRow(inv.id)).status).toBe("pending");
  });

  it("activates the account: a success page, the user exists and can log in, and the link is used up", async () => {
    const acct = await createAccount();
    const inv = await invite(acct);
    const page = await postPage(form(inv.token, { first_name: "Grace", last_name: "Hopper" }));
    expect(page.status).toBe(200);
    expectSafeHeaders(page);
    expect(page.one("h1")?.text).toContain("Grace");
    expect(page.one("p", { role: "status" })?.text).toContain(inv.email);
    expect(page.all("form")).toEqual([]);

    const [user] = await rows("SELECT * FROM users WHERE email = ?", inv.email);
    expect(user).toMatchObject({
      account_id: acct.accountId,
      first_name: "Grace",
      last_name: "Hopper",
      status: "active",
      created_via: "invitation",
      created_by: acct.adminId,
    });
    expect(user!.email_verified_at).not.toBeNull();
    expect(await invitationRow(inv.id)).toMatchObject({ status: "accepted", user_id: user!.id });
    const session = await login(inv.email);
    expect(session.user.id).toBe(user!.id);
    expect((await call("GET", "/v1/me", { token: session.access_token })).body).toMatchObject({
      id: user!.id,
      group_ids: [acct.membersId],
    });

    expect((await getPage(inv.token)).status).toBe(404);
    const again = await postPage(form(inv.token, { first_name: "Mallory" }));
    expect(again.status).toBe(404);
    expect(await count("SELECT count(*) AS n FROM users WHERE email = ?", inv.email)).toBe(1);
  });
});

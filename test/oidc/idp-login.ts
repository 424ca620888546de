/**
 * Drives the test IdP (`provider.ts`) the way a browser would, with fetch only, so it runs
 * in Node and in workerd alike: follow the authorization URL, sign in on the provider's
 * development form as `sub`, and return the URL the IdP sends the browser back to.
 */
export async function seedIdpUser(
  issuer: string,
  sub: string,
  claims: { email: string; email_verified: boolean; groups: string[] },
) {
  const res = await fetch(`${issuer}/test/users`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub, claims }),
  });
  if (res.status !== 204) throw new Error(`seeding the IdP failed: ${res.status}`);
}

/** Every Set-Cookie line: Node's fetch has getSetCookie(), workerd's has getAll(). */
export function setCookies(headers: Headers): string[] {
  const h = headers as unknown as {
    getSetCookie?(): string[];
    getAll?(name: string): string[];
  };
  return h.getSetCookie?.() ?? h.getAll?.("set-cookie") ?? [];
}

/** Follows `authorizationUrl` through the IdP's sign-in; answers the callback URL it redirects to. */
export async function signInAtIdp(
  authorizationUrl: string,
  sub: string,
  redirectUri: string,
): Promise<string> {
  const jar = new Map<string, string>();
  const remember = (res: Response) => {
    for (const line of setCookies(res.headers)) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      jar.set(pair!.slice(0, at).trim(), pair!.slice(at + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  let url = authorizationUrl;
  for (let hop = 0; hop < 12; hop++) {
    if (url.startsWith(redirectUri)) return url;
    const res = await fetch(url, { redirect: "manual", headers: { cookie: cookie() } });
    remember(res);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location")!, url).toString();
      continue;
    }
    const page = await res.text();
    if (res.status !== 200) throw new Error(`IdP answered ${res.status}: ${page.slice(0, 300)}`);
    const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
    if (!prompt) throw new Error(`no interaction form at ${url}`);
    const submitted = await fetch(url, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: cookie(), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ prompt, login: sub, password: "any" }).toString(),
    });
    remember(submitted);
    if (submitted.status < 300 || submitted.status >= 400) {
      throw new Error(
        `IdP form answered ${submitted.status}: ${(await submitted.text()).slice(0, 300)}`,
      );
    }
    url = new URL(submitted.headers.get("location")!, url).toString();
  }
  throw new Error("too many redirects at the IdP");
}

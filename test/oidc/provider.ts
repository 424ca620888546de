/**
 * A real OpenID Provider for the tests (`oidc-provider`, in Node, on 127.0.0.1): the IdP the
 * service's Team Login talks to. Users are seeded over HTTP (`POST /test/users`), so tests
 * running in workerd can seed them too; the provider's own development login form is
 * driven over HTTP by `idp-login.ts`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface IdpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface IdpUserClaims {
  email: string;
  email_verified: boolean;
  groups: string[];
  name?: string;
}

export interface StartedIdp {
  issuer: string;
  close(): Promise<void>;
}

async function readJson(req: import("node:http").IncomingMessage) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

export async function startIdp(clients: IdpClient[]): Promise<StartedIdp> {
  const users = new Map<string, IdpUserClaims>();
  // Bound before the provider exists: the issuer names its own port.
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      ...c,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    })),
    claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
    scopes: ["openid", "email", "groups"],
    pkce: { required: () => true },
    // The claims the scopes name go into the id_token itself, which is all the service reads.
    conformIdTokenClaims: false,
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Grant: 600,
      Session: 600,
    },
    cookies: { keys: ["test-idp-cookie-key"] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx: unknown, sub: string) {
      const claims = users.get(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    // Consent is implied: the test IdP grants every client what it asks for.
    async loadExistingGrant(ctx: any) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      grant.addOIDCScope("openid email groups");
      grant.addOIDCClaims(["email", "email_verified", "groups"]);
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;
  const callback = provider.callback();

  server.on("request", async (req, res) => {
    if (req.method === "POST" && req.url === "/test/users") {
      const body = await readJson(req);
      users.set(String(body.sub), body.claims as IdpUserClaims);
      res.writeHead(204).end();
      return;
    }
    callback(req, res);
  });

  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

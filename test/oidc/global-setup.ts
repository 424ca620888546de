/**
 * vitest globalSetup for the workerd suite: one real OpenID Provider in Node on 127.0.0.1
 * for the whole run, its issuer handed to the tests with `provide` (read with `inject`).
 */
import type { TestProject } from "vitest/node";
import { startIdp } from "./provider";

/** The client every test connection uses; the suite's APP_URL makes its redirect URI. */
export const TEST_CLIENT = {
  client_id: "um-test-client",
  client_secret: "um-test-client-secret",
  redirect_uris: ["http://127.0.0.1:8787/v1/sso/callback"],
};

/** Another client of the same IdP: what it is issued must not sign anyone in through TEST_CLIENT. */
export const OTHER_CLIENT = {
  ...TEST_CLIENT,
  client_id: "um-other-client",
  client_secret: "um-other-client-secret",
};

declare module "vitest" {
  interface ProvidedContext {
    idpIssuer: string;
  }
}

export default async function setup(project: TestProject) {
  const idp = await startIdp([TEST_CLIENT, OTHER_CLIENT]);
  project.provide("idpIssuer", idp.issuer);
  return () => idp.close();
}

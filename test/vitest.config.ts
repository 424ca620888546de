import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { ensureConsoleDir } from "../scripts/console-build.mjs";

const root = path.join(import.meta.dirname, "..");

export default defineConfig(async () => {
  // The workers-pool tests exercise the API, never the console: no build needed.
  ensureConsoleDir();
  const migrations = await readD1Migrations(path.join(root, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        main: path.join(root, "src/index.ts"),
        wrangler: { configPath: path.join(root, "wrangler.toml") },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ENVIRONMENT: "development",
            APP_URL: "http://127.0.0.1:8787",
            JWT_SIGNING_KEY: "test-signing-key-for-the-workerd-suite-only",
            PLATFORM_ADMIN_TOKEN: "test-platform-token",
            ENCRYPTION_KEY: "test-encryption-key-for-the-workerd-suite-only",
            CORS_ORIGINS: "https://dashboard.example,https://admin.example",
            // scrypt at 1/16 of the production cost: the suite hashes thousands of passwords.
            PASSWORD_HASH_COST: "1024",
          },
        },
      }),
    ],
    test: {
      root,
      include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
      setupFiles: [path.join(root, "test/setup/apply-migrations.ts")],
      // A real OpenID Provider in Node for the Team Login tests (issuer via inject("idpIssuer")).
      globalSetup: [path.join(root, "test/oidc/global-setup.ts")],
      testTimeout: 30_000,
      // Most of a test's time is spent waiting on workerd (D1, the account object, scrypt
      // in another process), so two files at once use a 2-core machine better than one.
      maxWorkers: 2,
    },
  };
});

#!/usr/bin/env node
// `npm start`: build the console, apply migrations to the local D1, serve the API and the
// console with `wrangler dev`, and seed a demo account (enterprise plan) whose
// administrator's credentials are printed.
// Safe to run again: migrations apply once, and the seed is created only the first time.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildConsole } from "./console-build.mjs";
import { devVarsExample, readDevVars } from "./dev-vars.mjs";

const root = path.resolve(import.meta.dirname, "..");
const port = Number(process.env.PORT ?? 8787);
const persist = path.join(root, ".wrangler", "state");
const credentialsFile = path.join(persist, "demo-admin.json");
// wrangler dev reads .dev.vars; a fresh clone gets it from the committed example.
const devVars = path.join(root, ".dev.vars");
if (!existsSync(devVars)) copyFileSync(devVarsExample, devVars);
const platformToken = readDevVars(devVars).PLATFORM_ADMIN_TOKEN;
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");

buildConsole();

const applied = spawnSync(
  wrangler,
  ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist],
  {
    cwd: root,
    env,
    stdio: "inherit",
  },
);
if (applied.status !== 0) process.exit(applied.status ?? 1);

const dev = spawn(
  wrangler,
  [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    persist,
    "--var",
    `APP_URL:http://127.0.0.1:${port}`,
  ],
  { cwd: root, env, stdio: "inherit" },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

const base = `http://127.0.0.1:${port}`;
async function waitForHealth() {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("the worker did not become healthy within two minutes");
}

function loadCredentials() {
  if (existsSync(credentialsFile)) return JSON.parse(readFileSync(credentialsFile, "utf8"));
  const credentials = {
    email: "admin@demo.example",
    password: `demo-${randomBytes(12).toString("base64url")}`,
  };
  mkdirSync(persist, { recursive: true });
  writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return credentials;
}

async function seed() {
  await waitForHealth();
  const credentials = loadCredentials();
  const res = await fetch(`${base}/v1/platform/accounts`, {
    method: "POST",
    headers: { authorization: `Bearer ${platformToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: "Demo Signage Co",
      plan: "enterprise",
      admin_email: credentials.email,
      admin_password: credentials.password,
    }),
  });
  const body = await res.json();
  if (res.status !== 201 && body.code !== "email_taken")
    throw new Error(`seeding failed: ${res.status} ${JSON.stringify(body)}`);
  const line = "=".repeat(72);
  console.log(`\n${line}\n Console: ${base}/   (sign in with the admin below)`);
  console.log(` API: ${base}/v1   (docs: ${base}/docs)`);
  console.log(
    ` Demo account ${res.status === 201 ? "created" : "already seeded"}: "Demo Signage Co" (enterprise)`,
  );
  console.log(
    `   admin email:    ${credentials.email}\n   admin password: ${credentials.password}`,
  );
  console.log(`   platform token: ${platformToken}`);
  console.log(
    `\n Try:\n   TOKEN=$(curl -s ${base}/v1/auth/login -H 'content-type: application/json' \\`,
  );
  console.log(
    `     -d '{"email":"${credentials.email}","password":"${credentials.password}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
  );
  console.log(`   curl -s ${base}/v1/users -H "authorization: Bearer $TOKEN"\n${line}\n`);
}

seed().catch((err) => {
  console.error(err);
  dev.kill();
  process.exit(1);
});

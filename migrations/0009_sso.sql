-- Team Login: one OpenID Connect connection per account, the email domains it routes (each
-- domain to at most one account), the IdP identities linked to users, and the one-time codes
-- a browser login hands to POST /v1/auth/exchange.
CREATE TABLE sso_connections (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id),
  issuer TEXT NOT NULL,
  client_id TEXT NOT NULL,
  -- AES-GCM under ENCRYPTION_KEY, bound to the account: never stored or shown in clear.
  client_secret_enc TEXT NOT NULL,
  sso_required INTEGER NOT NULL DEFAULT 0,
  jit_enabled INTEGER NOT NULL DEFAULT 0,
  default_group_ids TEXT NOT NULL DEFAULT '[]',
  group_claim TEXT NOT NULL DEFAULT 'groups',
  group_mapping TEXT NOT NULL DEFAULT '{}',
  -- Whoever saved it last: a first login links an existing user by email only when that
  -- user holds no more than this person, so sso:manage cannot take over an administrator.
  saved_by TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE sso_domains (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  domain TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, domain)
);
-- An email domain routes to one account only.
CREATE UNIQUE INDEX sso_domains_domain ON sso_domains(domain);

CREATE TABLE sso_identities (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, issuer, subject)
);
CREATE INDEX sso_identities_user ON sso_identities(user_id);

CREATE TABLE sso_login_codes (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX sso_login_codes_expiry ON sso_login_codes(expires_at);

-- SCIM bearer tokens: an identity provider provisions an account's users and groups with
-- one. Shown once (`scim_<id>.<secret>`); only SHA-256 of the secret is kept.
CREATE TABLE scim_tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_by TEXT,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX scim_tokens_account ON scim_tokens(account_id, id) WHERE revoked_at IS NULL;

-- Single-use tokens mailed to a user: email verification (for a new address) and password
-- reset. Only the SHA-256 of the secret is stored; D1 decides, KV is a fast index.
CREATE TABLE user_tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('email_verification', 'password_reset')),
  token_hash TEXT NOT NULL UNIQUE,
  email TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  superseded_at INTEGER
);
CREATE INDEX user_tokens_user ON user_tokens(user_id, kind) WHERE used_at IS NULL AND superseded_at IS NULL;

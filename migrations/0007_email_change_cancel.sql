-- A third kind of user token: the link mailed to the current address when a change of
-- address is requested, which cancels the change. SQLite cannot alter a CHECK constraint,
-- so the table is rebuilt: a new table, the rows copied, the old table
-- dropped, the new one renamed, its indexes (the cron's expiry index included) made again. Nothing references user_tokens;
-- deferring foreign keys keeps the copy of its own reference to users from being checked
-- halfway.
PRAGMA defer_foreign_keys = on;

CREATE TABLE user_tokens_new (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('email_verification', 'password_reset', 'email_change_cancel')),
  token_hash TEXT NOT NULL UNIQUE,
  email TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  superseded_at INTEGER
);

INSERT INTO user_tokens_new (id, account_id, user_id, kind, token_hash, email, created_at,
  expires_at, used_at, superseded_at)
SELECT id, account_id, user_id, kind, token_hash, email, created_at, expires_at, used_at,
  superseded_at
FROM user_tokens;

DROP TABLE user_tokens;
ALTER TABLE user_tokens_new RENAME TO user_tokens;
CREATE INDEX user_tokens_user ON user_tokens(user_id, kind) WHERE used_at IS NULL AND superseded_at IS NULL;
CREATE INDEX user_tokens_expiry ON user_tokens(expires_at);

PRAGMA defer_foreign_keys = off;

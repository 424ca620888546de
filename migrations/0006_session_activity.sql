-- When a session was last used: set at login and on every refresh. A session unused for a
-- week ends, besides its 30-day absolute limit. Existing sessions count as used when made.
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_used_at = created_at;

-- The cron's sweeps find what has expired by these.
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE INDEX sessions_last_used ON sessions(last_used_at);
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX user_tokens_expiry ON user_tokens(expires_at);
CREATE INDEX login_throttle_window ON login_throttle(window_started_at);

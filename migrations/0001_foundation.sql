-- The foundation data model. Times are integer milliseconds since the epoch.

CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  user_limit INTEGER NOT NULL,
  device_limit INTEGER NOT NULL,
  features TEXT NOT NULL
);
INSERT INTO plans (id, user_limit, device_limit, features) VALUES
  ('free', 3, 5, '[]'),
  ('team', 10, 50, '["api_tokens"]'),
  ('business', 50, 500, '["api_tokens","webhooks"]'),
  ('enterprise', 1000, 10000, '["api_tokens","webhooks","team_login","scim"]');

CREATE TABLE resellers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  plan_id TEXT NOT NULL REFERENCES plans(id),
  user_limit INTEGER,
  device_limit INTEGER,
  reseller_id TEXT REFERENCES resellers(id),
  settings TEXT NOT NULL DEFAULT '{"invitation_ttl_hours":168}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX accounts_reseller ON accounts(reseller_id) WHERE reseller_id IS NOT NULL;

-- Email is unique across the service (stored lower-cased) so login by email is unambiguous.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  email TEXT NOT NULL UNIQUE,
  pending_email TEXT,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  password_hash TEXT,
  must_change_password INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  created_via TEXT NOT NULL,
  created_by TEXT,
  email_verified_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_login_at INTEGER,
  last_login_ip TEXT,
  last_login_method TEXT
);
CREATE INDEX users_account ON users(account_id, id);
CREATE INDEX users_account_status ON users(account_id, status);

CREATE TABLE groups (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  description TEXT,
  builtin TEXT CHECK (builtin IN ('administrators', 'members')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_account_name ON groups(account_id, name COLLATE NOCASE);
CREATE UNIQUE INDEX groups_account_builtin ON groups(account_id, builtin) WHERE builtin IS NOT NULL;

CREATE TABLE grants (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  scope TEXT
);
CREATE INDEX grants_group ON grants(group_id);

CREATE TABLE group_memberships (
  account_id TEXT NOT NULL,
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_memberships_user ON group_memberships(user_id);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  method TEXT NOT NULL,
  ip TEXT,
  user_agent TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  replaced_by TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  permissions TEXT NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens(account_id, id);
CREATE INDEX api_tokens_user ON api_tokens(user_id) WHERE revoked_at IS NULL;

CREATE TABLE device_organizations (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX device_organizations_account ON device_organizations(account_id, id);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  device_organization_id TEXT NOT NULL REFERENCES device_organizations(id),
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  created_via TEXT NOT NULL CHECK (created_via IN ('provisioned', 'paired')),
  created_at INTEGER NOT NULL
);
CREATE INDEX devices_account ON devices(account_id, id);
CREATE INDEX devices_org ON devices(device_organization_id);

CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  email TEXT NOT NULL,
  group_ids TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
  token_hash TEXT NOT NULL UNIQUE,
  expires_at INTEGER NOT NULL,
  invited_by TEXT,
  created_at INTEGER NOT NULL,
  accepted_at INTEGER,
  revoked_at INTEGER,
  user_id TEXT
);
CREATE INDEX invitations_account ON invitations(account_id, status, id);
CREATE INDEX invitations_email ON invitations(email) WHERE status = 'pending';

CREATE TABLE activity_events (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  type TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT,
  subject_type TEXT,
  subject_id TEXT,
  method TEXT,
  ip TEXT,
  user_agent TEXT,
  metadata TEXT NOT NULL DEFAULT '{}',
  streamed_at INTEGER
);
CREATE INDEX activity_account_time ON activity_events(account_id, occurred_at DESC, id DESC);
CREATE INDEX activity_subject ON activity_events(account_id, subject_id, occurred_at DESC);
CREATE INDEX activity_actor ON activity_events(account_id, actor_id, occurred_at DESC);
CREATE INDEX activity_unstreamed ON activity_events(occurred_at) WHERE streamed_at IS NULL;

CREATE TABLE login_throttle (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  window_started_at INTEGER NOT NULL
);

-- D1 has no interactive transactions: a batch aborts (and rolls back) when a statement
-- fails. Inserting `code` here raises `guard:<code>`, so a batch can start with
-- `INSERT INTO batch_guards SELECT '<code>' WHERE <precondition is false>`.
CREATE TABLE batch_guards (code TEXT NOT NULL);
CREATE TRIGGER batch_guards_abort BEFORE INSERT ON batch_guards
BEGIN
  SELECT RAISE(ABORT, 'guard:' || NEW.code);
END;

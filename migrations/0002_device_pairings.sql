-- Pairing codes a device shows until an admin claims it into an organization. A code
-- belongs to no account until claimed; only a hash of the device's secret is stored.
CREATE TABLE device_pairings (
  code TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  account_id TEXT,
  device_id TEXT
);
CREATE INDEX device_pairings_expiry ON device_pairings(expires_at);

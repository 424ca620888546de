-- A paired device proves who it is with the secret it was given with its pairing code:
-- only its SHA-256 is kept, on the device. Re-pairing replaces it. Provisioned devices
-- have none.
ALTER TABLE devices ADD COLUMN secret_hash TEXT;

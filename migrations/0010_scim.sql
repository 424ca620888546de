-- SCIM provisioning. An identity provider's own id for a user or group (`externalId`) is
-- kept so it can find what it provisioned; groups made over SCIM are marked, since SCIM
-- sees and changes only those (never the built-in groups or groups administrators made).
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE groups ADD COLUMN external_id TEXT;
ALTER TABLE groups ADD COLUMN created_via TEXT NOT NULL DEFAULT 'manual';
CREATE INDEX users_account_external_id ON users(account_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX groups_account_scim ON groups(account_id, id) WHERE created_via = 'scim';

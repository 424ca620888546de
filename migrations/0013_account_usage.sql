-- What each account uses against its limits, kept as counts. Counting the rows on every
-- seat-taking write cost time in proportion to the account's users and pending invitations
-- (twice per write: the rule and the count it reports), so a large account slowed every
-- invitation. Triggers keep the counts in the same transaction as the change they count,
-- whichever statement makes it, so they are as exact as the rows.
--
-- Pending invitations are counted whatever their expiry: the seat rule subtracts the pending
-- ones already past it (the sweep marks them expired within minutes, so those are few).
CREATE TABLE account_usage (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id),
  active_users INTEGER NOT NULL DEFAULT 0,
  pending_invitations INTEGER NOT NULL DEFAULT 0,
  devices INTEGER NOT NULL DEFAULT 0
);

INSERT INTO account_usage (account_id, active_users, pending_invitations, devices)
SELECT a.id,
  (SELECT count(*) FROM users u WHERE u.account_id = a.id AND u.status = 'active'),
  (SELECT count(*) FROM invitations i WHERE i.account_id = a.id AND i.status = 'pending'),
  (SELECT count(*) FROM devices d WHERE d.account_id = a.id)
FROM accounts a;

CREATE TRIGGER account_usage_account AFTER INSERT ON accounts
BEGIN
  INSERT INTO account_usage (account_id) VALUES (NEW.id);
END;

CREATE TRIGGER account_usage_user_added AFTER INSERT ON users WHEN NEW.status = 'active'
BEGIN
  UPDATE account_usage SET active_users = active_users + 1 WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_usage_user_removed AFTER DELETE ON users WHEN OLD.status = 'active'
BEGIN
  UPDATE account_usage SET active_users = active_users - 1 WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER account_usage_user_status AFTER UPDATE OF status ON users
  WHEN (OLD.status = 'active') <> (NEW.status = 'active')
BEGIN
  UPDATE account_usage
    SET active_users = active_users + CASE WHEN NEW.status = 'active' THEN 1 ELSE -1 END
    WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_usage_invitation_added AFTER INSERT ON invitations
  WHEN NEW.status = 'pending'
BEGIN
  UPDATE account_usage SET pending_invitations = pending_invitations + 1
    WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_usage_invitation_removed AFTER DELETE ON invitations
  WHEN OLD.status = 'pending'
BEGIN
  UPDATE account_usage SET pending_invitations = pending_invitations - 1
    WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER account_usage_invitation_status AFTER UPDATE OF status ON invitations
  WHEN (OLD.status = 'pending') <> (NEW.status = 'pending')
BEGIN
  UPDATE account_usage
    SET pending_invitations = pending_invitations
      + CASE WHEN NEW.status = 'pending' THEN 1 ELSE -1 END
    WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_usage_device_added AFTER INSERT ON devices
BEGIN
  UPDATE account_usage SET devices = devices + 1 WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_usage_device_removed AFTER DELETE ON devices
BEGIN
  UPDATE account_usage SET devices = devices - 1 WHERE account_id = OLD.account_id;
END;

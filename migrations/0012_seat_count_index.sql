-- Every seat-taking write counts the account's pending, unexpired invitations twice (the
-- rule and the count it reports). With expires_at in the index the count reads the index
-- alone, instead of visiting every pending invitation's row to check its expiry.
CREATE INDEX invitations_pending_expiry ON invitations(account_id, status, expires_at);

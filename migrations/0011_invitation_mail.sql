-- Invitation mail leaves the request path: a queue consumer mints the link and sends it.
-- email_delivery says whether the mail owed is still queued, was sent, or failed for good;
-- rows from before were mailed during their request, so they count as sent. mail_id names
-- the mail owed now (a new one per invitation and per resend), so a queue message for an
-- older one finds nothing to do. mail_touched_at is when that mail was last queued or
-- attempted: the cron queues again mail whose message was lost.
ALTER TABLE invitations ADD COLUMN email_delivery TEXT NOT NULL DEFAULT 'sent'
  CHECK (email_delivery IN ('queued', 'sent', 'failed'));
ALTER TABLE invitations ADD COLUMN mail_id TEXT;
ALTER TABLE invitations ADD COLUMN mail_touched_at INTEGER;
CREATE INDEX invitations_mail_queued ON invitations(mail_touched_at) WHERE email_delivery = 'queued';

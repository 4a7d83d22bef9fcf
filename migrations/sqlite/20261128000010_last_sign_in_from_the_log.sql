-- The admin list reads a user's last sign-in from the audit log (issue 12):
-- a sign-in no longer writes the users row for it (one write less per
-- sign-in; A/B in the commit).
ALTER TABLE users DROP COLUMN last_sign_in_at;

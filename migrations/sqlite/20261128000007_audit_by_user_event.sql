-- The alert rules read a user's recent events of one kind (sign-ins that
-- failed, sign-ins and sign-outs, earlier alerts): an index that serves
-- each as a bounded range scan, newest first, however long the account's
-- history (make bench, W2: without it each sign-in scanned the whole
-- history and sign-ins slowed down as it grew).
CREATE INDEX audit_events_user_event ON audit_events (user_id, event, outcome, at);

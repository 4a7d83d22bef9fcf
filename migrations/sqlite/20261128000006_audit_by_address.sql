-- Alerts count recent failed sign-ins per address as well as per account
-- (issue 12): an index for the address side.
CREATE INDEX audit_events_ip ON audit_events (ip, at);

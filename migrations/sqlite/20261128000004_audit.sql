-- The audit log (issue 12; ASVS 16.3.1: every authentication event).
--
-- One row per event: UTC unix time, the event and its outcome, the user
-- when known (no foreign key: the events of a deleted account stay until
-- retention removes them), the attempted username of a failed sign-in,
-- a keyed hash of the session ID (HMAC-SHA256 with a key derived from the
-- MFA key: never the ID, never its SHA-256 storage key, so the log cannot
-- lead to a session row; ASVS 16.2.5), the client's IP and user agent, and
-- details as JSON (the reason of a failure is kept here, server-side only).
-- Rows older than [audit] retention_days are deleted in batches.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    event        TEXT    NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('success', 'failure')),
    user_id      INTEGER,
    username     TEXT,
    session_hash BLOB,
    ip           TEXT,
    user_agent   TEXT,
    details      TEXT    NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_user ON audit_events (user_id, at);
CREATE INDEX audit_events_at ON audit_events (at);

-- The account + address throttle row remembers its last successful sign-in
-- (issue 12): "a known address" is read from the row the attempt counts
-- anyway, and a success settles in one UPDATE instead of an UPDATE and an
-- upsert into a second table (one database round trip less per sign-in;
-- A/B in the commit).
ALTER TABLE throttle ADD COLUMN last_success_at INTEGER NOT NULL DEFAULT 0;

INSERT INTO throttle (key_hash, failures, window_start, next_allowed_at, last_success_at)
    SELECT key_hash, 0, 0, 0, last_success_at FROM throttle_known WHERE true
    ON CONFLICT (key_hash) DO UPDATE SET last_success_at = excluded.last_success_at;

DROP TABLE throttle_known;

-- The brute-force throttle in the database (issue 12): it holds across
-- restarts and, on a shared database, across servers. One row per key
-- (SHA-256 of e.g. "account+address:alice|192.0.2.1"): attempts counted in
-- the window that began at window_start; no attempt is accepted before
-- next_allowed_at (a delay that doubles past the limit, capped at 15
-- minutes). See app/src/ssr/throttle.rs.
CREATE TABLE throttle (
    key_hash        BLOB    PRIMARY KEY CHECK (length(key_hash) = 32),
    failures        INTEGER NOT NULL,
    window_start    INTEGER NOT NULL,
    next_allowed_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Addresses an account has signed in from (SHA-256 of "account|address"):
-- the per-account limit across all addresses does not apply to them, so an
-- attacker elsewhere cannot lock a user out of their usual device.
CREATE TABLE throttle_known (
    key_hash        BLOB    PRIMARY KEY CHECK (length(key_hash) = 32),
    last_success_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

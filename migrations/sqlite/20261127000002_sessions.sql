-- Server-side sessions, one row per session.
--
-- id_hash is SHA-256 of the raw 128-bit session ID. The raw ID exists only in
-- the browser's cookie: someone who reads this table (a backup, an SQL
-- injection elsewhere) cannot replay a session from it (OWASP Session
-- Management Cheat Sheet, "Session ID storage"; ASVS 5.0 V7).
--
-- Times are unix seconds. A row is valid only while now < idle_expires_at and
-- now < absolute_expires_at; both are checked on every load, so an expired
-- row that the clean-up task has not reached yet is still dead.
--
-- data holds only what the session needs (user id, authentication time,
-- credential epoch) as JSON: never a password or personal data.
CREATE TABLE sessions (
    id_hash             BLOB    PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),
    user_id             INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    ip_first            TEXT,
    ip_last             TEXT,
    user_agent_first    TEXT,
    user_agent_last     TEXT,
    data                TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- List and revoke a user's sessions; pick the least recently used one when
-- [session] max_per_user is exceeded.
CREATE INDEX sessions_by_user ON sessions (user_id, last_seen_at);

-- The clean-up task deletes expired rows in bounded batches.
CREATE INDEX sessions_by_idle_expiry ON sessions (idle_expires_at);
CREATE INDEX sessions_by_absolute_expiry ON sessions (absolute_expires_at);

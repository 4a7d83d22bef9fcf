-- Device-bound sessions (issue 26, W3C DBSC): the device's public key and
-- the bound cookie, one row per sign-in, in a table of its own (never in a
-- session's data, where a read-modify-write could drop it). Keyed by the
-- sign-in's id (sessions.sign_in_id), which every ID rotation of the
-- sign-in keeps: a step-up does not unbind the device. A row starts as an
-- offer (a challenge, no key) at sign-in; registration stores the key.
CREATE TABLE device_bindings (
    sign_in_id                 TEXT    PRIMARY KEY,
    user_id                    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_identifier         TEXT    UNIQUE,
    public_key                 TEXT,
    challenge                  TEXT    NOT NULL,
    previous_challenge         TEXT,
    challenge_expires_at       INTEGER NOT NULL,
    cookie_hash                BLOB,
    previous_cookie_hash       BLOB,
    cookie_expires_at          INTEGER,
    previous_cookie_expires_at INTEGER,
    created_at                 INTEGER NOT NULL,
    registered_at              INTEGER,
    refreshed_at               INTEGER,
    refreshes                  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX device_bindings_user ON device_bindings (user_id);

-- Accounts. The username is unique case-insensitively (NOCASE), so "Alice"
-- and "alice" cannot both register and sign-in needs no lower-casing.
-- password_hash is an argon2id PHC string (algorithm, parameters, salt, hash);
-- the password itself is never stored.
-- credential_epoch is bumped whenever the credentials change; every session
-- records the epoch it was created under, and a session whose epoch no
-- longer matches is dead (a password change ends every session).
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    username         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash    TEXT    NOT NULL,
    credential_epoch INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL -- unix seconds
) STRICT;

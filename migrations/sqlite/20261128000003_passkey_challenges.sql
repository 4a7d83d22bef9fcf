-- Passkey ceremonies in progress (issue 11). The ceremony's state lives in
-- the server-side session; this row is its single-use ticket: the finish
-- deletes it with one conditional DELETE, so of two parallel finishes of
-- one ceremony exactly one proceeds (the session alone could not tell: both
-- requests may load it before either saves). `nonce` is random, kept in the
-- session next to the state; rows past `expires_at` are deleted as new
-- ceremonies start.
CREATE TABLE passkey_ceremonies (
    nonce      BLOB    PRIMARY KEY CHECK (length(nonce) = 16),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

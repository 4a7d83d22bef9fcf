-- Two-step verification (issue 10).
--
-- totp_factors: one per user with MFA on. secret_sealed is the TOTP secret
-- encrypted with AES-256-GCM under the key in [mfa] key_file, with the user
-- id as associated data (never the secret in clear). last_step is the
-- highest 30-second time step accepted for this user: a code of that step or
-- an earlier one is never accepted again (single use, ASVS 6.5.1), and the
-- conditional UPDATE that advances it makes parallel uses of one code race
-- to a single winner.
CREATE TABLE totp_factors (
    user_id       INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BLOB    NOT NULL,
    enabled_at    INTEGER NOT NULL,
    last_step     INTEGER NOT NULL
) STRICT;

-- Recovery codes: SHA-256 of the normalised code only (79 random bits each,
-- see app/src/ssr/mfa/recovery.rs). used_at is set once, by a conditional
-- UPDATE, so a code works exactly once.
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL CHECK (length(code_hash) = 32),
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;

-- Administrators are made on the command line (`server admin grant NAME`),
-- never from the web.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER;

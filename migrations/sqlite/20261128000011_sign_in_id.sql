-- Access tokens (issue 14) name the sign-in they were minted from by its
-- sign_in_id: a random 128-bit value made at sign-in, kept through every ID
-- rotation of that sign-in (step-up, elevation), and not derived from the
-- session ID (it cannot lead to the session row's cookie). The API checks a
-- token's `sid` claim against this column, so that signing out, a revocation,
-- an expiry or a password change ends the token's access too.
ALTER TABLE sessions ADD COLUMN sign_in_id TEXT;
CREATE INDEX sessions_by_sign_in ON sessions (sign_in_id) WHERE sign_in_id IS NOT NULL;

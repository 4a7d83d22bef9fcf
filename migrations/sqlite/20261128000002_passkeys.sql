-- Passkeys (WebAuthn, issue 11).
--
-- users.webauthn_handle: the random user handle (16 bytes, a UUID) given to
-- authenticators at registration and returned by them at a usernameless
-- sign-in. Random rather than the row id, so that it says nothing about the
-- account (WebAuthn §14.6.1); made on the first passkey.
ALTER TABLE users ADD COLUMN webauthn_handle BLOB;
CREATE UNIQUE INDEX users_webauthn_handle ON users (webauthn_handle)
    WHERE webauthn_handle IS NOT NULL;

-- One row per passkey. credential_id is unique across all accounts (a
-- credential registered to one user can never be claimed by another).
-- passkey is webauthn-rs' serialised credential: the public key, the sign
-- counter and flags; no secret (the private key never leaves the
-- authenticator). The counter is updated on every use, and a use whose
-- counter goes backwards is refused (a cloned authenticator). sign_count
-- mirrors the counter so that the update is conditional: of two parallel
-- uses of one assertion, one wins.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB    NOT NULL UNIQUE,
    passkey       TEXT    NOT NULL,
    sign_count    INTEGER NOT NULL DEFAULT 0,
    name          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
CREATE INDEX passkeys_user ON passkeys (user_id);

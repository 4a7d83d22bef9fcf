-- Device-bound sessions (issue 26, W3C DBSC): see the SQLite migration of
-- the same name. A change to a binding is announced like a change to its
-- sessions (issue 24), so that every server's cache reads it again.
CREATE TABLE device_bindings (
    sign_in_id                 TEXT    PRIMARY KEY,
    user_id                    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_identifier         TEXT    UNIQUE,
    public_key                 TEXT,
    challenge                  TEXT    NOT NULL,
    previous_challenge         TEXT,
    challenge_expires_at       BIGINT  NOT NULL,
    cookie_hash                BYTEA,
    previous_cookie_hash       BYTEA,
    cookie_expires_at          BIGINT,
    previous_cookie_expires_at BIGINT,
    created_at                 BIGINT  NOT NULL,
    registered_at              BIGINT,
    refreshed_at               BIGINT,
    refreshes                  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX device_bindings_user ON device_bindings (user_id);

CREATE FUNCTION tessera_binding_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  key BYTEA;
BEGIN
  FOR key IN SELECT id_hash FROM sessions WHERE sign_in_id = COALESCE(NEW.sign_in_id, OLD.sign_in_id) LOOP
    PERFORM pg_notify('tessera_cache', 's:' || encode(key, 'hex'));
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER device_bindings_changed AFTER INSERT OR UPDATE OR DELETE ON device_bindings
  FOR EACH ROW EXECUTE FUNCTION tessera_binding_changed();

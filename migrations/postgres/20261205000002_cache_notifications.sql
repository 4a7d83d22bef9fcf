-- Several servers on one PostgreSQL keep their session caches true (issue
-- 24): every change to a session's row or a user's row is announced on
-- the channel tessera_cache, from inside the writing transaction, so a
-- server hears of a change only once it has committed. A new row needs no
-- announcement: no server can have cached it. See app/src/ssr/db/notifications.rs.
CREATE FUNCTION tessera_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tessera_cache', 's:' || encode(OLD.id_hash, 'hex'));
  RETURN NULL;
END
$$;

CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON sessions
  FOR EACH ROW EXECUTE FUNCTION tessera_session_changed();

CREATE FUNCTION tessera_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tessera_cache', 'u:' || OLD.id);
  RETURN NULL;
END
$$;

CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION tessera_user_changed();

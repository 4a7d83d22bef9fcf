-- Recovery codes of 112 bits and more: see the SQLite migration of the same
-- name (the schemas are kept equivalent).
ALTER TABLE recovery_codes ADD COLUMN bits BIGINT NOT NULL DEFAULT 79;

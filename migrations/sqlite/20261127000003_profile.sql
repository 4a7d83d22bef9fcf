-- A small editable profile on the account page: real work that the expiry
-- countdown must not lose. Free text, shown back to the user only.
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN about TEXT NOT NULL DEFAULT '';

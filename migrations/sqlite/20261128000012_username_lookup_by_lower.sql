-- Usernames are case-insensitive (COLLATE NOCASE on the column). Lookups now
-- compare lower(username) = lower(?), a form PostgreSQL shares (issue 14:
-- one set of queries for both engines); this index keeps them indexed here.
-- Usernames are ASCII only (accounts::normalize_username), where lower()
-- and NOCASE agree.
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

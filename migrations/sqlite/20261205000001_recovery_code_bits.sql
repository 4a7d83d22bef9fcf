-- Recovery codes of 112 bits and more (ASVS 5.0 6.5.2: a look-up secret
-- stored with a plain hash needs at least 112 bits of entropy). Codes are
-- now 25 characters (123 bits, app/src/ssr/mfa/recovery.rs); the ones made
-- before had 16 (79 bits). They keep working until used or renewed, and
-- `bits` tells the security page to ask for new ones.
ALTER TABLE recovery_codes ADD COLUMN bits INTEGER NOT NULL DEFAULT 79;

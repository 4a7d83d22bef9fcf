-- Issue 12: a sign-in from a browser and system the account has not used
-- before is shown at the top of the account page until the user dismisses
-- it. Kept on the user's row, which every session load reads already (one
-- query per request), so the page costs no extra read.
ALTER TABLE users ADD COLUMN device_notice TEXT;

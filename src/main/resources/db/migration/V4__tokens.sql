-- Tokens get a public id (what `token ls` shows and `token revoke ID` takes; never the secret or its hash),
-- an optional expiry, a kind ('api': made by an operator or a token file; 'session': a dashboard login),
-- and, for a session, the id of the token whose login code made it (revoking that token ends its sessions).
-- Rows from before get their ids when the controller starts (a random id needs no SQL both databases share).
ALTER TABLE tokens ADD COLUMN id VARCHAR(32);
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'api';
ALTER TABLE tokens ADD COLUMN parent_id VARCHAR(32);
CREATE UNIQUE INDEX tokens_by_id ON tokens (id);
CREATE INDEX tokens_by_parent ON tokens (parent_id);

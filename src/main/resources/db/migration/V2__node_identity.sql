-- Node identity (issue 12, item 2): each node's own credential, issued at its first registration and shown
-- to its agent once; only its SHA-256 is kept. NULL on a node carried over from V1: the first registration
-- after the upgrade claims the name and receives a credential (the agents of that fleet were trusted then).
ALTER TABLE nodes ADD COLUMN credential_hash VARCHAR(64);
-- The sequence number of the last report applied for this node (an older or equal one is not applied), written
-- at most every 10 s per node: the controller checks in memory and this is the floor it restarts from.
ALTER TABLE nodes ADD COLUMN last_seq BIGINT DEFAULT 0 NOT NULL;

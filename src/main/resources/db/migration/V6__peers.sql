-- Peers (issue 13, item 3): the controller as the tracker of which nodes hold which images' chunks.

-- Secrets the fleet shares, made once by the controller. 'peer-token': what agents present to each other's peer
-- servers; handed to each agent in its Welcome (over the channel its node credential protects), so it is kept
-- as is, not hashed.
CREATE TABLE fleet_secrets (
    name        VARCHAR(32)  PRIMARY KEY,
    secret      VARCHAR(128) NOT NULL,
    created_at  BIGINT       NOT NULL
);

-- Where the node's agent serves its chunk cache to peers (NULL: it serves none), and its rack/zone label
-- (NULL: none), so that an assignment can list the nearest peers first.
ALTER TABLE nodes ADD COLUMN peer_url VARCHAR(512);
ALTER TABLE nodes ADD COLUMN zone VARCHAR(64);

-- Images whose chunks a node's cache holds, as its agent last reported them. A hint: an evicted chunk costs
-- the asking peer one 404 and a fetch elsewhere. Goes with its node.
CREATE TABLE node_cached_images (
    node         VARCHAR(128) NOT NULL REFERENCES nodes (name) ON DELETE CASCADE,
    image        VARCHAR(128) NOT NULL,
    reported_at  BIGINT       NOT NULL,
    PRIMARY KEY (node, image)
);
CREATE INDEX node_cached_images_image ON node_cached_images (image);

-- The boot profile (images.boot_profile, reserved since V1) as the first deployment to reach ready recorded it:
-- its SHA-256 (the ETag agents keep it by), its length, and the node that sent it.
ALTER TABLE images ADD COLUMN boot_profile_sha256 VARCHAR(64);
ALTER TABLE images ADD COLUMN boot_profile_bytes BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE images ADD COLUMN boot_profile_node VARCHAR(128);

-- Where an instance's bytes came from, as its mediator counts them (every chunk verified before it counted).
ALTER TABLE instances ADD COLUMN bytes_from_cache BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE instances ADD COLUMN bytes_from_peers BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE instances ADD COLUMN bytes_from_store BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE instances ADD COLUMN chunks_verified BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE instances ADD COLUMN chunks_rejected BIGINT DEFAULT 0 NOT NULL;

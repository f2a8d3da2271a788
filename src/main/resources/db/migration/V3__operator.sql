-- An operator can always get out (issue 12 items 12 and 13).

-- maintenance: the operator took the node out of scheduling; what it runs keeps running.
-- must_scrub: the operator forced an instance off this node (destroy --force) or asked for a re-scrub
-- (node scrub): its agent must scrub and verify again before the node is offered to anyone. Cleared once the
-- agent reports a disk that is not clean (its scrub has begun); its next clean report then proves a new scrub.
ALTER TABLE nodes ADD COLUMN maintenance BOOLEAN DEFAULT FALSE NOT NULL;
ALTER TABLE nodes ADD COLUMN must_scrub BOOLEAN DEFAULT FALSE NOT NULL;

-- The image a live instance needs, as a foreign key: NULL once the instance is deleted, so a removed image's
-- history (instances.image) stays while no instance that is not deleted can ever point at a removed image.
-- The key, not a check in the application, settles "remove" racing "launch" on both H2 and PostgreSQL: the
-- loser of the two fails (a launch answers "image removed", a removal "image in use").
ALTER TABLE instances ADD COLUMN image_ref VARCHAR(128);
UPDATE instances SET image_ref = image WHERE state <> 'deleted' AND image IN (SELECT name FROM images);
ALTER TABLE instances ADD CONSTRAINT instances_image_ref FOREIGN KEY (image_ref) REFERENCES images (name);
CREATE INDEX instances_image_ref ON instances (image_ref);

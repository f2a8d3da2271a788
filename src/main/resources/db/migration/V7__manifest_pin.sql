-- The manifest pinned at add (issue 13): for an s3:// image, the SHA-256 of the manifest object's exact bytes that
-- `image add` read and verified every chunk of. Each chunk is verified against its name, but only this pins the
-- list of names: a deployment refuses a manifest with another digest (entries swapped, or pointed at another
-- image's chunks, after the add). NULL for an NBD image, and for store images added before V7 (unpinned).
ALTER TABLE images ADD COLUMN manifest_sha256 VARCHAR(64);

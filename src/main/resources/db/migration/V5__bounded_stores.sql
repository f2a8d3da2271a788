-- Boot files in bounded pieces: a download streams them a chunk at a time (PgJDBC reads a bytea value whole,
-- so one row per file would put the whole kernel in the heap per download). Rows of image_files from before
-- keep their content until the controller moves it into chunks at start (ImageRepository.moveLegacyFiles).
CREATE TABLE boot_file_chunks (
    image    VARCHAR(128) NOT NULL,
    kind     VARCHAR(16)  NOT NULL,
    seq      INTEGER      NOT NULL,
    content  BYTEA        NOT NULL,
    PRIMARY KEY (image, kind, seq)
);
-- the file's SHA-256 (hex, its ETag) and length; NULL only on a row not yet moved into chunks
ALTER TABLE image_files ADD COLUMN sha256 VARCHAR(64);
ALTER TABLE image_files ADD COLUMN size_bytes BIGINT;
ALTER TABLE image_files ALTER COLUMN content DROP NOT NULL;

-- Events are pruned by age (and by count, through the id).
CREATE INDEX events_at ON events (at_ms);

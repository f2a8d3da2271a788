package io.bmcast.imagestore;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Somewhere a chunk's stored bytes can come from: the object store, a peer's cache, this node's own cache.
 * Sources are not trusted: whoever asks checks the bytes against the chunk's name ({@link ChunkVerifier}), so a
 * source only fetches.
 */
public interface ChunkSource extends AutoCloseable {

    /** Who this is, for logs and counters: "store s3://...", "peer node-7", "cache". */
    String name();

    /**
     * The chunk's bytes as stored (position 0, limit {@code chunk.storedSize()} when honest), or null when this
     * source does not hold it. Thread-safe: the mediator has several fetches in flight.
     *
     * @throws IOException the source failed (unreachable, refused, cut short); the caller may try another
     */
    ByteBuffer fetch(Manifest.Chunk chunk) throws IOException;

    @Override
    default void close() throws IOException {}
}

package io.bmcast.imagestore;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The object store as a chunk source: one whole-object GET of {@code PREFIX/chunks/ab/<sha256>} per chunk. Owns
 * its client (closing it closes the client).
 */
public final class StoreChunkSource implements ChunkSource {
    private final StoreClient client;
    private final StoreLocation location;

    public StoreChunkSource(StoreClient client, StoreLocation location) {
        this.client = client;
        this.location = location;
    }

    @Override
    public String name() {
        return "store " + location.display();
    }

    public StoreLocation location() {
        return location;
    }

    /** Null when the store has no such chunk; {@link StoreException} (permanent or not) when it failed. */
    @Override
    public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
        return client.get(location.chunkKey(chunk.sha256()));
    }

    @Override
    public void close() {
        client.close();
    }
}

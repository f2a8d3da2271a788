package io.bmcast.imagestore;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * What a node's peer server falls back to for a chunk its cache does not hold: a deployment on this node that is
 * fetching the image the chunk belongs to. It answers the chunk once its own fetch of it completes (joining one in
 * flight, or pulling it through its own chain: cache, ancestors in the chunk's {@link PeerTree}, store), verified.
 * So a member whose parent in the tree is a little behind waits for the parent instead of going to the store.
 */
@FunctionalInterface
public interface ChunkProvider {
    /** No deployment here: the peer server answers from its cache alone. */
    ChunkProvider NONE = (sha256, background) -> null;

    /**
     * The chunk's verified stored bytes, or null when no deployment here has the chunk in its image.
     *
     * @param background the asker wants it for a background copy (it yields to requests for a guest's reads)
     * @throws IOException the deployment could not get the chunk from any source
     */
    ByteBuffer provide(String sha256, boolean background) throws IOException;
}

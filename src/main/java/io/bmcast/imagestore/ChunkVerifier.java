package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.nio.ByteBuffer;

/** The one check every chunk passes before any of its bytes may reach a disk or another peer. */
public final class ChunkVerifier {
    private ChunkVerifier() {}

    /** True when {@code stored} (position to limit, left unmoved) is exactly the chunk its name promises. */
    public static boolean verified(Manifest.Chunk chunk, ByteBuffer stored) {
        return stored != null && stored.remaining() == chunk.storedSize() && Sha256.hex(stored).equals(chunk.sha256());
    }
}

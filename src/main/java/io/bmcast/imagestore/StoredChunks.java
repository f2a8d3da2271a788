package io.bmcast.imagestore;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Reading an image's chunks back from the store, each checked ({@link ChunkVerifier}, then decoded to its length). */
final class StoredChunks {
    /** A chunk the store lacks or holds wrong, named by index, offset and object name. */
    static final class BadChunk extends IOException {
        final int index;
        final long offset;
        final String sha256;
        final String problem;

        BadChunk(StoreLocation image, int index, long offset, String sha256, String problem) {
            super("chunk " + index + " at offset " + offset + " (" + sha256 + ") of " + image.display() + " " + problem);
            this.index = index;
            this.offset = offset;
            this.sha256 = sha256;
            this.problem = problem;
        }
    }

    private final StoreClient store;
    private final StoreLocation image;
    private final Manifest manifest;

    StoredChunks(StoreClient store, StoreLocation image, Manifest manifest) {
        this.store = store;
        this.image = image;
        this.manifest = manifest;
    }

    /** Chunk {@code index}'s stored bytes, verified (position to limit). */
    ByteBuffer stored(int index) throws IOException {
        Manifest.Chunk c = manifest.chunk(index);
        ByteBuffer b = Retry.store(() -> store.get(image.chunkKey(c.sha256())));
        if (b == null) throw bad(index, "is missing from the store (no " + image.chunkKey(c.sha256()) + ")");
        if (b.remaining() != c.storedSize()) {
            throw bad(index, "is " + b.remaining() + " bytes in the store, but the manifest says " + c.storedSize());
        }
        if (!ChunkVerifier.verified(c, b)) throw bad(index, "does not hash to its name (its bytes in the store are not that chunk)");
        return b;
    }

    /** Chunk {@code index} as the image holds it: verified, then decoded to exactly its length. */
    ByteBuffer raw(int index) throws IOException {
        ByteBuffer stored = stored(index);
        try {
            return ChunkCodec.decode(manifest.chunk(index), stored, manifest.chunkLength(index));
        } catch (IOException e) {
            throw bad(index, "does not decode to its " + manifest.chunkLength(index) + " bytes as " + manifest.chunk(index).encoding().wire());
        }
    }

    private BadChunk bad(int index, String problem) {
        return new BadChunk(image, index, manifest.chunkOffset(index), manifest.chunk(index).sha256(), problem);
    }
}

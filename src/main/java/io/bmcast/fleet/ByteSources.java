package io.bmcast.fleet;

/**
 * Where an instance's image bytes came from, as its mediator counts them: this node's chunk cache, peers, the object
 * store. Every chunk counted was verified against its name first; {@code chunksRejected} counts those that did not
 * verify (fetched again elsewhere, never used).
 */
public record ByteSources(long bytesFromCache, long bytesFromPeers, long bytesFromStore, long chunksVerified, long chunksRejected) {
    public static final ByteSources NONE = new ByteSources(0, 0, 0, 0, 0);

    public ByteSources {
        if (bytesFromCache < 0 || bytesFromPeers < 0 || bytesFromStore < 0 || chunksVerified < 0 || chunksRejected < 0) {
            throw new IllegalArgumentException("byte and chunk counts cannot be negative");
        }
    }

    public long total() {
        return bytesFromCache + bytesFromPeers + bytesFromStore;
    }

    /** This and {@code other}, added (fleet-wide sums). */
    public ByteSources plus(ByteSources other) {
        return new ByteSources(bytesFromCache + other.bytesFromCache, bytesFromPeers + other.bytesFromPeers,
                bytesFromStore + other.bytesFromStore, chunksVerified + other.chunksVerified, chunksRejected + other.chunksRejected);
    }
}

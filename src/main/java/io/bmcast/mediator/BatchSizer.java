package io.bmcast.mediator;

/**
 * How big a background batch may be: as much as the link carries in a fixed time, shared by the batches in flight.
 * A guest request that arrives while the hydrator copies waits behind what is already on the wire; with fixed
 * 2 MiB batches, two in flight, that was 34 ms at 1 Gbit/s but 336 ms at 100 Mbit/s, and a busybox boot (a few
 * hundred small dependent reads, 3 MiB) took 2.9x as long as from a local disk at 100 Mbit/s. Sizing batches by
 * time keeps that wait near {@code targetNs} whatever the link, while batches stay large enough (tens of link
 * round trips) that, pipelined, they still fill it.
 *
 * <p>The rate is measured, not configured: background bytes over the time at least one batch was in flight.
 * Policy only; time is passed in. Thread-safe (the hydrator's workers share one).
 */
final class BatchSizer {
    private final long minBytes;
    private final long maxBytes;
    private final long initialBytes;
    private final long targetNs;
    private final int workers;
    // Guarded by this.
    private int inFlight;
    private long busySinceNs;
    private long busyNs;
    private long bytes;

    /**
     * @param targetNs link time all batches in flight together may take; 0 for fixed batches of {@code maxBytes}
     */
    BatchSizer(long minBytes, long maxBytes, long targetNs, int workers) {
        if (minBytes < 1 || maxBytes < minBytes) throw new IllegalArgumentException("batch bounds " + minBytes + ".." + maxBytes);
        this.minBytes = minBytes;
        this.maxBytes = maxBytes;
        this.initialBytes = Math.max(minBytes, Math.min(maxBytes, 256 << 10));
        this.targetNs = targetNs;
        this.workers = Math.max(1, workers);
    }

    /** The size for the next batch. */
    long batchBytes() {
        return batchBytes(targetNs);
    }

    /**
     * The size for the next batch when the batches in flight may take at most {@code limitNs} of link time
     * together (capped by the configured target): the hydrator passes less while the guest is busy.
     */
    synchronized long batchBytes(long limitNs) {
        if (targetNs <= 0) return maxBytes;
        long targetNs = Math.min(this.targetNs, Math.max(1, limitNs));
        if (busyNs < 5_000_000L || bytes == 0) return initialBytes; // nothing measured yet: start small
        double rate = bytes * 1e9 / busyNs;
        long b = (long) (rate * targetNs / 1e9 / workers);
        return Math.max(minBytes, Math.min(maxBytes, b));
    }

    /** Measured bytes per second while copying, or 0 before any measurement. Visible for testing. */
    synchronized double rate() {
        return busyNs == 0 ? 0 : bytes * 1e9 / busyNs;
    }

    synchronized void started(long nowNs) {
        if (inFlight++ == 0) busySinceNs = nowNs;
    }

    synchronized void finished(long nowNs, long batchBytes) {
        bytes += batchBytes;
        if (--inFlight == 0) busyNs += Math.max(0, nowNs - busySinceNs);
    }
}

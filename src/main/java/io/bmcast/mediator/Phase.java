package io.bmcast.mediator;

/** Where a mediated disk is in its life. */
public enum Phase {
    /** Regions are still missing: reads may go to the image server, the hydrator copies the rest. */
    STREAMING,
    /**
     * Still streaming, but the background copy waits: for a failing image server (backing off), or for space on a
     * full local disk. The status's {@code lastError} says which.
     */
    STALLED,
    /**
     * The background copy gave up after its failure limit (guest reads still fetch on demand), or the local disk
     * failed to sync (every later flush fails).
     */
    FAILED,
    /** Every region is local and committed: the mediator may step out of the I/O path. */
    HYDRATED
}

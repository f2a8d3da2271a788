package io.bmcast.mediator;

/** Where a mediated disk is in its life. */
public enum Phase {
    /** Regions are still missing: reads may go to the image server, the hydrator copies the rest. */
    STREAMING,
    /** Still streaming, but the background copy is backing off from a failing image server. */
    STALLED,
    /** The background copy gave up after its failure limit; guest reads still fetch on demand. */
    FAILED,
    /** Every region is local and committed: the mediator may step out of the I/O path. */
    HYDRATED
}

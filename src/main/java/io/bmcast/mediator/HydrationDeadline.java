package io.bmcast.mediator;

/**
 * The share a deadline asks for: the bytes still to copy over the time left, against the link's measured throughput
 * while copying, with a margin. Pure arithmetic, time passed in.
 *
 * <p>Why a margin of 1.25: the throughput is measured on the batches so far, and a busy guest's own fetches take
 * their part of the link; aiming to finish at 80% of the time left keeps a deadline met when the estimate is
 * optimistic by up to a quarter, and recomputing every cycle corrects the rest as the deadline nears (the share
 * then only rises). Past the deadline, or once the share needed reaches 1, the copy runs as though the guest were
 * idle: it still waits behind guest requests in flight on the link, but no longer yields its turn.
 *
 * @param deadlineNs the deadline as a {@code System.nanoTime} instant
 * @param epochMs the same deadline in wall-clock time, for the status
 */
public record HydrationDeadline(long deadlineNs, long epochMs) {
    static final double MARGIN = 1.25;

    /**
     * The share needed now, at least {@code minShare}.
     *
     * @param remainingBytes bytes of data still to copy (an estimate: holes excluded where known)
     * @param linkBytesPerSec throughput of the background copy while a batch is in flight; 0 when not measured yet
     */
    public double share(long nowNs, double minShare, long remainingBytes, double linkBytesPerSec) {
        if (remainingBytes <= 0) return minShare;
        long leftNs = deadlineNs - nowNs;
        if (leftNs <= 0) return 1;
        if (linkBytesPerSec <= 0) return minShare; // the first batches measure it
        double needed = MARGIN * remainingBytes / (linkBytesPerSec * (leftNs / 1e9));
        return Math.min(1, Math.max(minShare, needed));
    }

    /**
     * When the copy would be done if the guest stayed busy throughout and the copy got {@code share} of the link:
     * an upper bound, since idle time is the copy's too. {@code Long.MIN_VALUE} when it cannot be told yet.
     */
    public static long projectedNs(long nowNs, long remainingBytes, double linkBytesPerSec, double share) {
        if (remainingBytes <= 0) return nowNs;
        if (linkBytesPerSec <= 0 || share <= 0) return Long.MIN_VALUE;
        return nowNs + (long) (remainingBytes / (linkBytesPerSec * share) * 1e9);
    }
}

package io.bmcast.mediator;

/**
 * Decides whether background hydration may run now, given the guest's I/O. Guest I/O always goes first:
 * the hydrator asks before every batch, and a batch is small (a few MiB), so a guest request waits at
 * most for the batch already on the wire. Time is passed in; the hydrator calls every method under its lock.
 */
public interface YieldPolicy {

    /**
     * @param guestInFlight guest requests being served right now
     * @param lastGuestIoNs when the last guest request finished ({@code Long.MIN_VALUE} if none yet)
     */
    boolean mayRun(long nowNs, int guestInFlight, long lastGuestIoNs);

    /** Told when a background batch starts (after {@link #mayRun} allowed it). */
    default void batchStarted(long nowNs) {}

    /** Told after each background batch, with its start and end, whether it succeeded or not. */
    default void batchDone(long startNs, long endNs) {}

    /** The share of the time the background copy gets while the guest is busy now (0: none, it only uses idle time). */
    default double share() {
        return 0;
    }

    /** Runs only while no guest request is in flight and none finished in the last {@code quietNs}. */
    static YieldPolicy whenIdle(long quietNs) {
        return new WhenIdle(quietNs);
    }

    /**
     * Runs freely while the guest is idle; while the guest is busy, lets the background copy have the link at least
     * {@code share} (0..1] of the time, one batch at a time. See {@link Share}.
     */
    static Share share(double share, long quietNs) {
        return new Share(share, quietNs);
    }

    final class WhenIdle implements YieldPolicy {
        private final long quietNs;

        WhenIdle(long quietNs) {
            this.quietNs = quietNs;
        }

        @Override
        public boolean mayRun(long nowNs, int guestInFlight, long lastGuestIoNs) {
            return guestInFlight == 0 && (lastGuestIoNs == Long.MIN_VALUE || nowNs - lastGuestIoNs - quietNs >= 0);
        }
    }

    /**
     * A guaranteed minimum share, kept as a credit of background time (a token bucket measured in nanoseconds of
     * batches): it grows by {@code share} for every nanosecond of wall time and every batch spends its duration,
     * idle-time batches included. So the share costs a guest nothing while idle gaps give the copy its share anyway,
     * as they do during a boot (reads between bursts of CPU work): the credit stays spent and the busy guest is never
     * interrupted. Only a guest that leaves no gaps (a database under load) lets the credit grow, and then it gets one
     * batch whenever the credit is positive: one batch of {@code t} every {@code t / share}.
     *
     * <p>It starts owing {@link #MAX_CREDIT_NS}: a guest that is busy from its first read (a boot) is not interrupted
     * for its first {@code MAX_CREDIT_NS / share} (250 ms at 0.2); the idle gaps of a boot pay the rest. The credit
     * is capped at {@link #MAX_CREDIT_NS} either way: a long quiet spell does not buy a burst that a
     * busy guest would then wait behind, and long idle copying does not starve the next busy spell for long.
     * {@link #share(double)} raises the share (a deadline); it never goes below the configured minimum.
     */
    final class Share implements YieldPolicy {
        /** The most background time a busy guest can owe or be owed. */
        static final long MAX_CREDIT_NS = 50_000_000L;

        private final double minShare;
        private final WhenIdle idle;
        private double share;
        private long creditNs = -MAX_CREDIT_NS;
        private long accruedAtNs = Long.MIN_VALUE;
        private int inFlight;

        Share(double share, long quietNs) {
            if (!(share > 0 && share <= 1)) throw new IllegalArgumentException("share must be in (0, 1]: " + share);
            this.minShare = share;
            this.share = share;
            this.idle = new WhenIdle(quietNs);
        }

        @Override
        public boolean mayRun(long nowNs, int guestInFlight, long lastGuestIoNs) {
            accrue(nowNs);
            if (idle.mayRun(nowNs, guestInFlight, lastGuestIoNs)) return true;
            return share >= 1 || inFlight == 0 && creditNs > 0;
        }

        @Override
        public void batchStarted(long nowNs) {
            inFlight++;
        }

        @Override
        public void batchDone(long startNs, long endNs) {
            inFlight = Math.max(0, inFlight - 1);
            accrue(endNs);
            creditNs = Math.max(-MAX_CREDIT_NS, creditNs - Math.max(0, endNs - startNs));
        }

        @Override
        public double share() {
            return share;
        }

        /** The configured minimum. */
        public double minShare() {
            return minShare;
        }

        /** Sets the share for what follows, at least the configured minimum and at most 1. */
        public void share(double s) {
            share = Math.min(1, Math.max(minShare, s));
        }

        private void accrue(long nowNs) {
            if (accruedAtNs != Long.MIN_VALUE && nowNs - accruedAtNs > 0) {
                creditNs = Math.min(MAX_CREDIT_NS, creditNs + (long) ((nowNs - accruedAtNs) * share));
            }
            if (accruedAtNs == Long.MIN_VALUE || nowNs - accruedAtNs > 0) accruedAtNs = nowNs;
        }
    }
}

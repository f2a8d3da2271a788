package io.bmcast.mediator;

/**
 * Decides whether background hydration may run now, given the guest's I/O. Guest I/O always goes first:
 * the hydrator asks before every batch, and a batch is small (a few MiB), so a guest request waits at
 * most for the batch already on the wire. Time is passed in.
 */
public interface YieldPolicy {

    /**
     * @param guestInFlight guest requests being served right now
     * @param lastGuestIoNs when the last guest request finished ({@code Long.MIN_VALUE} if none yet)
     */
    boolean mayRun(long nowNs, int guestInFlight, long lastGuestIoNs);

    /** Told after each background batch, with its start and end. */
    default void batchDone(long startNs, long endNs) {}

    /** Runs only while no guest request is in flight and none finished in the last {@code quietNs}. */
    static YieldPolicy whenIdle(long quietNs) {
        return new WhenIdle(quietNs);
    }

    /**
     * While the guest is busy, runs at most {@code share} (0..1) of the time: after a batch that took
     * {@code t}, waits {@code t * (1 - share) / share} before the next. When the guest is idle, runs freely.
     */
    static YieldPolicy share(double share, long quietNs) {
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

    final class Share implements YieldPolicy {
        private final double share;
        private final WhenIdle idle;
        private long notBeforeNs = Long.MIN_VALUE;

        Share(double share, long quietNs) {
            if (!(share > 0 && share <= 1)) throw new IllegalArgumentException("share must be in (0, 1]: " + share);
            this.share = share;
            this.idle = new WhenIdle(quietNs);
        }

        @Override
        public boolean mayRun(long nowNs, int guestInFlight, long lastGuestIoNs) {
            return idle.mayRun(nowNs, guestInFlight, lastGuestIoNs)
                    || notBeforeNs == Long.MIN_VALUE || nowNs - notBeforeNs >= 0;
        }

        @Override
        public void batchDone(long startNs, long endNs) {
            long took = Math.max(0, endNs - startNs);
            notBeforeNs = endNs + (long) (took * (1 - share) / share);
        }
    }
}

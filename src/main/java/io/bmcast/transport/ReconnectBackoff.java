package io.bmcast.transport;

import java.time.Duration;

/**
 * How long to wait before reconnect attempt {@code n}: exponential from {@code min} to {@code max}, with
 * "equal jitter" (half fixed, half random) so that a fleet of mediators whose image server restarted do
 * not all knock at the same instant. Pure: the random draw is passed in.
 */
public record ReconnectBackoff(Duration min, Duration max) {

    public ReconnectBackoff {
        if (min.isNegative() || min.isZero()) throw new IllegalArgumentException("minimum backoff must be positive");
        if (max.compareTo(min) < 0) throw new IllegalArgumentException("maximum backoff below minimum");
    }

    /**
     * @param attempt 1 for the first retry after a failed attempt
     * @param random  a draw in [0, 1)
     */
    public long delayNanos(int attempt, double random) {
        long cap = max.toNanos();
        long base = min.toNanos();
        int shift = Math.min(Math.max(attempt - 1, 0), 40);
        long d = base > (cap >> shift) ? cap : Math.min(cap, base << shift);
        return d / 2 + (long) (d / 2 * random);
    }
}

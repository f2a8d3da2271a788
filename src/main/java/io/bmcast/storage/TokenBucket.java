package io.bmcast.storage;

/**
 * A byte-rate limit as a token bucket, written in its "theoretical arrival time" form (GCRA): the link
 * is busy until {@code busyUntilNs}; a transfer of n bytes extends that by n / rate, and has to wait
 * for whatever part of the backlog exceeds the allowed burst. Transfers reserve in arrival order and each
 * learns its own delay at once, so concurrent requests queue like packets on a wire instead of
 * serialising behind a lock held while sleeping.
 *
 * <p>Why the burst is small (10 ms of traffic by default): an emulated 200 Mbit link that let a client
 * burst a whole second would hide the very start-up stalls the benchmarks measure.
 *
 * <p>Time is passed in; the class never reads a clock. Thread-safe.
 */
public final class TokenBucket {
    private final long bytesPerSecond;
    private final long burstNs;
    // Guarded by this: the instant the link has sent everything reserved so far.
    private long busyUntilNs;
    private boolean started;

    public TokenBucket(long bytesPerSecond, long burstNs) {
        if (bytesPerSecond <= 0) throw new IllegalArgumentException("rate must be positive: " + bytesPerSecond);
        if (burstNs < 0) throw new IllegalArgumentException("burst must not be negative: " + burstNs);
        this.bytesPerSecond = bytesPerSecond;
        this.burstNs = burstNs;
    }

    /** A bucket that lets at most 10 ms of traffic through at once. */
    public static TokenBucket withDefaultBurst(long bytesPerSecond) {
        return new TokenBucket(bytesPerSecond, 10_000_000L);
    }

    public long bytesPerSecond() {
        return bytesPerSecond;
    }

    /** Time the link needs to carry {@code bytes}. */
    public long transmitNanos(long bytes) {
        // bytes * 1e9 / rate without overflow for any request size we serve (< 2^32 bytes).
        return Math.multiplyHigh(bytes, 1_000_000_000L) == 0
                ? bytes * 1_000_000_000L / bytesPerSecond
                : (long) ((double) bytes * 1e9 / bytesPerSecond);
    }

    /**
     * Reserves the link for {@code bytes} sent at {@code nowNs}.
     *
     * @return how long the caller must wait before the transfer counts as done (0 = at once)
     */
    public synchronized long reserve(long bytes, long nowNs) {
        if (!started || busyUntilNs - nowNs < 0) {
            busyUntilNs = nowNs;
            started = true;
        }
        busyUntilNs += transmitNanos(bytes);
        long wait = busyUntilNs - nowNs - burstNs;
        return Math.max(0, wait);
    }
}

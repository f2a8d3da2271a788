package io.bmcast.storage;

import io.bmcast.util.Units;

/**
 * An emulated network link shared by every connection to a server: a rate limit over all of them
 * (a {@link TokenBucket}) plus a fixed one-way latency added to every reply. The latency is per request,
 * not per link: concurrent requests each wait their own, as on a real wire.
 *
 * <p>Policy only: {@link #delayNanos} is given the time and returns how long to hold a reply.
 */
public final class LinkEmulator {
    private final TokenBucket bucket; // null = unlimited
    private final long latencyNs;

    public LinkEmulator(TokenBucket bucket, long latencyNs) {
        if (latencyNs < 0) throw new IllegalArgumentException("latency must not be negative");
        this.bucket = bucket;
        this.latencyNs = latencyNs;
    }

    /** From command line values, either may be null: {@code --rate 200Mbit --latency 200us}. */
    public static LinkEmulator parse(String rate, String latency) {
        TokenBucket b = rate == null ? null : TokenBucket.withDefaultBurst(Units.parseRate(rate));
        long l = latency == null ? 0 : Units.parseDurationNanos(latency);
        return new LinkEmulator(b, l);
    }

    public boolean isIdentity() {
        return bucket == null && latencyNs == 0;
    }

    public long latencyNanos() {
        return latencyNs;
    }

    /** How long to hold the reply of a request moving {@code bytes} of payload, issued at {@code nowNs}. */
    public long delayNanos(long bytes, long nowNs) {
        long rateWait = bucket == null || bytes == 0 ? 0 : bucket.reserve(bytes, nowNs);
        return rateWait + latencyNs;
    }

    /**
     * Holds the calling thread for as long as a reply moving {@code bytes} waits on this link (rate and latency),
     * however often the park wakes early.
     */
    public void hold(long bytes) throws java.io.InterruptedIOException {
        long deadline = System.nanoTime() + delayNanos(bytes, System.nanoTime());
        long left;
        while ((left = deadline - System.nanoTime()) > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(left);
            if (Thread.interrupted()) throw new java.io.InterruptedIOException("link emulation interrupted");
        }
    }

    @Override
    public String toString() {
        if (isIdentity()) return "no link emulation";
        StringBuilder s = new StringBuilder();
        if (bucket != null) s.append("rate ").append(Units.formatRate(bucket.bytesPerSecond()));
        if (latencyNs > 0) {
            if (!s.isEmpty()) s.append(", ");
            s.append("latency ").append(latencyNs / 1000).append(" us");
        }
        return s.toString();
    }
}

package io.bmcast.mediator;

/**
 * Caps background hydration at {@code rate} bytes per second. Time is passed in, so the policy is
 * deterministic under test.
 *
 * <p>Bytes are charged after a batch has been transferred (its size is only known then: holes cost
 * nothing), so the balance may go negative; the next batch waits until it is positive again. Over any
 * window the bytes moved stay within {@code rate * window + burst + one batch}. Not thread-safe: owned by
 * the hydrator thread.
 */
public final class TokenBucket {
    private final long rateBytesPerSec;
    private final long burstBytes;
    private double tokens;
    private long lastNs;
    private boolean started;

    /** {@code rateBytesPerSec <= 0} means unlimited. {@code burstBytes}: the most credit an idle period earns. */
    public TokenBucket(long rateBytesPerSec, long burstBytes) {
        this.rateBytesPerSec = rateBytesPerSec;
        this.burstBytes = Math.max(1, burstBytes);
    }

    public static TokenBucket unlimited() {
        return new TokenBucket(0, 1);
    }

    public boolean limited() {
        return rateBytesPerSec > 0;
    }

    private void refill(long nowNs) {
        if (!started) {
            started = true;
            lastNs = nowNs;
            tokens = burstBytes;
            return;
        }
        long elapsed = nowNs - lastNs;
        if (elapsed > 0) {
            tokens = Math.min(burstBytes, tokens + elapsed * (rateBytesPerSec / 1e9));
            lastNs = nowNs;
        }
    }

    /** Nanoseconds to wait before the next batch may start; 0 when it may start now. */
    public long delayNs(long nowNs) {
        if (!limited()) return 0;
        refill(nowNs);
        if (tokens > 0) return 0;
        return Math.max(1, (long) Math.ceil((1 - tokens) * 1e9 / rateBytesPerSec));
    }

    /** Charges {@code bytes} that have just been transferred. */
    public void consume(long nowNs, long bytes) {
        if (!limited()) return;
        refill(nowNs);
        tokens -= bytes;
    }
}

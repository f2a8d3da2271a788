package io.bmcast.mediator;

/**
 * Exponential backoff between retries of a failing source: {@code initial * 2^(failures-1)}, capped at
 * {@code max}. The hydrator never gives up silently: it keeps retrying (its status says it is stalled and
 * why), or, with a failure limit, stops and reports the failure.
 */
public record Backoff(long initialNs, long maxNs, int maxConsecutiveFailures) {

    public Backoff {
        if (initialNs <= 0 || maxNs < initialNs) throw new IllegalArgumentException("need 0 < initial <= max");
        if (maxConsecutiveFailures < 0) throw new IllegalArgumentException("maxConsecutiveFailures < 0");
    }

    /** 100 ms doubling up to 10 s, retrying forever. */
    public static Backoff standard() {
        return new Backoff(100_000_000L, 10_000_000_000L, 0);
    }

    /** Delay after the {@code failures}-th consecutive failure (1-based). */
    public long delayNs(int failures) {
        if (failures <= 0) return 0;
        int shift = Math.min(failures - 1, 62);
        long d = initialNs << shift;
        return (d <= 0 || (d >> shift) != initialNs) ? maxNs : Math.min(maxNs, d);
    }

    /** True when {@code failures} consecutive failures mean giving up (never, when the limit is 0). */
    public boolean exhausted(int failures) {
        return maxConsecutiveFailures > 0 && failures >= maxConsecutiveFailures;
    }
}

package io.bmcast.controller;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A sliding sum over the last {@code seconds} whole seconds, in per-second buckets: launches per minute,
 * bytes per second. Lock-free, because every launch and every heartbeat adds to one; a bucket reused for a
 * new second is reset by whoever gets there first, so a concurrent add may land in the old count (an
 * error of one sample in a dashboard figure, never a stall).
 */
public final class RateWindow {
    private final int seconds;
    private final AtomicLongArray second;
    private final AtomicLongArray sum;

    public RateWindow(int seconds) {
        this.seconds = seconds;
        this.second = new AtomicLongArray(seconds);
        this.sum = new AtomicLongArray(seconds);
        for (int i = 0; i < seconds; i++) second.set(i, Long.MIN_VALUE);
    }

    public void add(long nowMs, long amount) {
        long s = Math.floorDiv(nowMs, 1000);
        int i = (int) Math.floorMod(s, seconds);
        long held = second.get(i);
        if (held != s && second.compareAndSet(i, held, s)) sum.set(i, 0);
        sum.addAndGet(i, amount);
    }

    /** The sum over the last {@code window} seconds (at most the whole window), including the current one. */
    public long sum(long nowMs, int window) {
        long s = Math.floorDiv(nowMs, 1000);
        long total = 0;
        for (int k = 0; k < Math.min(window, seconds); k++) {
            int i = (int) Math.floorMod(s - k, seconds);
            if (second.get(i) == s - k) total += sum.get(i);
        }
        return total;
    }
}

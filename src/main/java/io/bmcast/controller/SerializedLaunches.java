package io.bmcast.controller;

import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The pre-Swift-Birth toolstack, kept for the benchmark's comparison: one launch at a time behind one global
 * lock, held until the agent has taken the instance (reported {@code starting} or later) or a timeout. Off
 * by default; when off, {@link #enter} and {@link #awaitTaken} cost nothing.
 */
final class SerializedLaunches {
    private final boolean enabled;
    private final Duration takeTimeout;
    /** The global launch lock: guards nothing but the order of launches, which is the point. */
    private final ReentrantLock launchLock = new ReentrantLock(true);
    private final ConcurrentHashMap<String, CountDownLatch> waiting = new ConcurrentHashMap<>();

    SerializedLaunches(boolean enabled, Duration takeTimeout) {
        this.enabled = enabled;
        this.takeTimeout = takeTimeout;
    }

    boolean enabled() {
        return enabled;
    }

    /** Takes the global lock when serialized; the returned handle releases it. */
    AutoCloseable enter() {
        if (!enabled) return () -> {};
        launchLock.lock();
        return launchLock::unlock;
    }

    /** Call before the instance can be placed, so that an agent taking it at once is not missed. */
    void expect(String id) {
        if (enabled) waiting.putIfAbsent(id, new CountDownLatch(1));
    }

    /** Waits (holding the lock) until the agents took every one of {@code ids}, or the timeout. */
    void awaitTaken(Collection<String> ids) throws InterruptedException {
        if (!enabled) return;
        long deadline = System.nanoTime() + takeTimeout.toNanos();
        for (String id : ids) {
            CountDownLatch l = waiting.computeIfAbsent(id, k -> new CountDownLatch(1));
            try {
                l.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } finally {
                waiting.remove(id);
            }
        }
    }

    /** An agent took {@code id}: a waiting launch may go on. */
    void taken(String id) {
        if (!enabled) return;
        CountDownLatch l = waiting.get(id);
        if (l != null) l.countDown();
    }
}

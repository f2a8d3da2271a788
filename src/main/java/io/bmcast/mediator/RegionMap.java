package io.bmcast.mediator;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The state of every region, in one byte array (no object per region: a 32 GiB disk in 4 KiB regions is
 * 8 Mi regions).
 *
 * <pre>
 *   ABSENT ──claim──▶ FETCHING ──data written locally, live bit set──▶ PRESENT (final)
 *      ▲                 │
 *      └────release──────┘  (the fetch or the write failed: waiters see ABSENT and fail with EIO)
 * </pre>
 *
 * FETCHING means "one party owns this region and is filling it": a fetch from the source (on demand or
 * background), or a guest write / zeroing that covers the whole region. Only the owner writes the local
 * bytes of a region that is not PRESENT, and nobody but the guest writes a PRESENT region: this is what
 * keeps a background fetch from ever overwriting guest data. An owner never waits for another region
 * while it holds a claim (it finishes or releases first), so claims cannot deadlock.
 *
 * <p>Locking: region {@code r} is guarded by stripe {@code r & (STRIPES-1)}; the stripe's lock guards
 * every state transition of its regions and its condition is signalled when one of them leaves FETCHING.
 * Reads of the state take no lock: PRESENT is final, so a PRESENT seen with acquire semantics is true for
 * good, and it is published (release) only after the region's data and live bit are in place.
 */
final class RegionMap {
    static final byte ABSENT = 0, FETCHING = 1, PRESENT = 2;
    private static final int STRIPES = 64;
    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(byte[].class);

    private final byte[] states;
    private final ReentrantLock[] locks = new ReentrantLock[STRIPES];
    private final Condition[] settled = new Condition[STRIPES];
    private final LiveMap live;
    private final AtomicLong present = new AtomicLong();
    /** Regions ABSENT now: lets the hydrator see that none is left without scanning the map. */
    private final AtomicLong absent = new AtomicLong();
    /** Count of regions that became PRESENT since this map was built; lets the committer skip idle commits. */
    private final AtomicLong transitions = new AtomicLong();

    RegionMap(int regions, LiveMap live) {
        this.states = new byte[regions];
        this.live = live;
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new ReentrantLock();
            settled[i] = locks[i].newCondition();
        }
        long n = 0;
        for (int r = 0; r < regions; r++) {
            if (live.get(r)) {
                states[r] = PRESENT;
                n++;
            }
        }
        present.set(n);
        absent.set(regions - n);
        VarHandle.releaseFence();
    }

    int regions() {
        return states.length;
    }

    long presentCount() {
        return present.get();
    }

    /** Regions ABSENT now (exact: every transition is counted under its stripe's lock). */
    long absentCount() {
        return absent.get();
    }

    long transitions() {
        return transitions.get();
    }

    byte state(int r) {
        return (byte) STATE.getAcquire(states, r);
    }

    boolean isPresent(int r) {
        return state(r) == PRESENT;
    }

    boolean allPresent(int first, int last) {
        for (int r = first; r <= last; r++) {
            if (state(r) != PRESENT) return false;
        }
        return true;
    }

    /** ABSENT → FETCHING; true when the caller now owns the region. */
    boolean tryClaim(int r) {
        if (state(r) != ABSENT) return false;
        ReentrantLock l = locks[r & (STRIPES - 1)];
        l.lock();
        try {
            if ((byte) STATE.get(states, r) != ABSENT) return false;
            STATE.setRelease(states, r, FETCHING);
            absent.decrementAndGet();
            return true;
        } finally {
            l.unlock();
        }
    }

    /**
     * FETCHING → PRESENT, by the owner, after the region's data is in the local disk (page cache at
     * least). The live bit is set first: once any request can see PRESENT it may write into the region and
     * acknowledge, and a process crash after that acknowledgement must not find the region ABSENT (it
     * would be fetched again, over the guest's data).
     */
    void markPresent(int r) {
        live.set(r);
        ReentrantLock l = locks[r & (STRIPES - 1)];
        l.lock();
        try {
            if ((byte) STATE.get(states, r) == ABSENT) absent.decrementAndGet();
            STATE.setRelease(states, r, PRESENT);
            settled[r & (STRIPES - 1)].signalAll();
        } finally {
            l.unlock();
        }
        present.incrementAndGet();
        transitions.incrementAndGet();
    }

    /** FETCHING → ABSENT, by the owner, after a failure. Waiters wake and fail. */
    void release(int r) {
        ReentrantLock l = locks[r & (STRIPES - 1)];
        l.lock();
        try {
            if ((byte) STATE.get(states, r) != ABSENT) absent.incrementAndGet();
            STATE.setRelease(states, r, ABSENT);
            settled[r & (STRIPES - 1)].signalAll();
        } finally {
            l.unlock();
        }
    }

    /** Waits while region {@code r} is FETCHING; returns the state it settled in (PRESENT or ABSENT). */
    byte awaitSettled(int r) throws InterruptedException {
        if (state(r) != FETCHING) return state(r);
        int s = r & (STRIPES - 1);
        locks[s].lock();
        try {
            byte st;
            while ((st = (byte) STATE.get(states, r)) == FETCHING) settled[s].await(1, TimeUnit.SECONDS);
            return st;
        } finally {
            locks[s].unlock();
        }
    }

    /** First ABSENT region at or after {@code from}, or -1. */
    int nextAbsent(int from) {
        for (int r = Math.max(0, from); r < states.length; r++) {
            if (state(r) == ABSENT) return r;
        }
        return -1;
    }
}

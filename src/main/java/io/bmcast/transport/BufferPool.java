package io.bmcast.transport;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A connection's pool of direct buffers for request payloads (READ replies, WRITE data, extents), in
 * power-of-two size classes from 4 KiB to 32 MiB. Two limits: the bytes handed out at once (the
 * connection's in-flight bound; {@link #acquire} waits when over it) and the bytes kept for reuse.
 *
 * <p>Buffers are native memory from their own {@link Arena}, freed the moment the pool lets them go
 * rather than whenever the garbage collector gets round to it: that keeps the server's RSS bounded
 * however many connections come and go.
 */
final class BufferPool implements AutoCloseable {
    static final int MIN_SHIFT = 12;
    static final int MAX_SHIFT = 25;

    /** Native bytes held by all pools of the process (handed out or kept). Visible for testing. */
    static final AtomicLong NATIVE_BYTES = new AtomicLong();

    /** A pooled buffer: {@link #buffer} is reset to position 0 and the asked length when handed out. */
    static final class Buf {
        final ByteBuffer buffer;
        final Arena arena;
        final int sizeClass;

        Buf(int sizeClass) {
            this.sizeClass = sizeClass;
            this.arena = Arena.ofShared();
            this.buffer = arena.allocate(1L << sizeClass, 4096).asByteBuffer();
            NATIVE_BYTES.addAndGet(buffer.capacity());
        }

        void free() {
            NATIVE_BYTES.addAndGet(-buffer.capacity());
            arena.close();
        }
    }

    private final long maxOutstanding;
    private final long maxRetained;
    private final InFlightBudget budget;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition released = lock.newCondition();
    // Guarded by lock: free buffers per size class, bytes kept in them, bytes handed out.
    @SuppressWarnings("unchecked")
    private final ArrayDeque<Buf>[] free = new ArrayDeque[MAX_SHIFT + 1];
    private long retained;
    private long outstanding;
    private boolean closed;

    /** Every native byte this pool allocates is also charged to the server-wide {@code budget}. */
    BufferPool(long maxOutstanding, long maxRetained, InFlightBudget budget) {
        this.maxOutstanding = maxOutstanding;
        this.maxRetained = maxRetained;
        this.budget = budget;
        for (int i = MIN_SHIFT; i <= MAX_SHIFT; i++) free[i] = new ArrayDeque<>();
    }

    static int sizeClass(int length) {
        if (length > 1 << MAX_SHIFT) throw new IllegalArgumentException("buffer too large: " + length);
        int shift = 32 - Integer.numberOfLeadingZeros(Math.max(length, 1) - 1);
        return Math.max(MIN_SHIFT, shift);
    }

    /** A buffer of {@code length} bytes, or null when that would exceed this pool's or the server's bound. */
    Buf tryAcquire(int length) {
        int c = sizeClass(length);
        long cap = 1L << c;
        lock.lock();
        try {
            if (outstanding > 0 && outstanding + cap > maxOutstanding) return null;
            Buf b = reuse(c, cap, length);
            if (b != null) return b;
            if (!budget.tryBytes(cap)) {
                dropRetained();
                if (!budget.tryBytes(cap)) return null;
            }
            outstanding += cap;
        } finally {
            lock.unlock();
        }
        return allocate(c, cap, length);
    }

    /** A buffer of {@code length} bytes, waiting while this pool's or the server's bound is reached. */
    Buf acquire(int length) throws InterruptedException {
        int c = sizeClass(length);
        long cap = 1L << c;
        lock.lock();
        try {
            while (outstanding > 0 && outstanding + cap > maxOutstanding) released.await(1, TimeUnit.SECONDS);
            Buf b = reuse(c, cap, length);
            if (b != null) return b;
            outstanding += cap; // reserved here while we wait for the server's budget
            if (budget.tryBytes(cap)) {
                lock.unlock();
                return allocate(c, cap, length);
            }
            dropRetained();
        } finally {
            if (lock.isHeldByCurrentThread()) lock.unlock();
        }
        try {
            budget.acquireBytes(cap); // never with our lock held: releases on this pool must go on
        } catch (InterruptedException e) {
            unreserve(cap);
            throw e;
        }
        return allocate(c, cap, length);
    }

    private Buf reuse(int c, long cap, int length) {
        Buf b = free[c].pollLast();
        if (b == null) return null;
        retained -= cap;
        outstanding += cap;
        b.buffer.clear().limit(length);
        return b;
    }

    /** A new buffer for bytes already counted as outstanding here and charged to the budget. */
    private Buf allocate(int c, long cap, int length) {
        Buf b;
        try {
            b = new Buf(c);
        } catch (RuntimeException | OutOfMemoryError e) {
            budget.releaseBytes(cap);
            unreserve(cap);
            throw e;
        }
        b.buffer.clear().limit(length);
        return b;
    }

    private void unreserve(long cap) {
        lock.lock();
        try {
            outstanding -= cap;
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Frees the buffers kept for reuse (lock held): the server needs the room more than we need the cache. */
    private void dropRetained() {
        for (int i = MIN_SHIFT; i <= MAX_SHIFT; i++) {
            Buf b;
            while ((b = free[i].pollLast()) != null) dispose(b);
        }
        retained = 0;
    }

    private void dispose(Buf b) {
        b.free();
        budget.releaseBytes(1L << b.sizeClass);
    }

    void release(Buf b) {
        long cap = 1L << b.sizeClass;
        boolean drop;
        lock.lock();
        try {
            outstanding -= cap;
            drop = closed || retained + cap > maxRetained || !budget.roomToKeep();
            if (!drop) {
                free[b.sizeClass].addLast(b);
                retained += cap;
            }
            released.signalAll();
        } finally {
            lock.unlock();
        }
        if (drop) dispose(b);
    }

    long outstanding() {
        lock.lock();
        try {
            return outstanding;
        } finally {
            lock.unlock();
        }
    }

    /** Frees the kept buffers; buffers still handed out are freed when released. */
    @Override
    public void close() {
        ArrayDeque<Buf> drop = new ArrayDeque<>();
        lock.lock();
        try {
            closed = true;
            for (int i = MIN_SHIFT; i <= MAX_SHIFT; i++) {
                drop.addAll(free[i]);
                free[i].clear();
            }
            retained = 0;
        } finally {
            lock.unlock();
        }
        for (Buf b : drop) dispose(b);
    }
}

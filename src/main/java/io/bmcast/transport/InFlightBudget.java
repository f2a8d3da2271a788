package io.bmcast.transport;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What all the connections of one server may hold together: native buffer bytes (payloads handed out, and
 * buffers each connection's {@link BufferPool} keeps for reuse) and requests in flight. Each connection
 * has its own, larger-per-head bounds too; this one is what keeps a thousand connections from each taking
 * their own share at once, so the server's memory stays bounded however many clients there are.
 *
 * <p>Why kept buffers count: they are resident memory just as much as buffers in use. A pool keeps a
 * released buffer only while the server is at most half full ({@link #roomToKeep}), so at least half of
 * the budget is always either free or held by requests that will finish (or whose connection the idle
 * sweep drops): a waiting request larger than the free space is served as soon as they complete.
 */
final class InFlightBudget {
    private final long maxBytes;
    private final int maxRequests;
    private final long maxInputBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // Guarded by lock.
    private long bytes;
    private int requests;
    private int waiters;
    private long inputBytes;

    /**
     * @param maxBytes native payload bytes, handed out or kept, across all connections
     * @param maxRequests requests in flight across all connections
     * @param maxInputBytes bytes of enlarged input buffers across all connections (busy connections read
     *     into 256 KiB; the others, and those past this bound, keep their small one)
     */
    InFlightBudget(long maxBytes, int maxRequests, long maxInputBytes) {
        this.maxBytes = maxBytes;
        this.maxRequests = maxRequests;
        this.maxInputBytes = maxInputBytes;
    }

    boolean tryBytes(long n) {
        lock.lock();
        try {
            if (bytes + n > maxBytes) return false;
            bytes += n;
            return true;
        } finally {
            lock.unlock();
        }
    }

    void acquireBytes(long n) throws InterruptedException {
        lock.lock();
        try {
            waiters++;
            try {
                while (bytes + n > maxBytes) changed.await(1, TimeUnit.SECONDS);
            } finally {
                waiters--;
            }
            bytes += n;
        } finally {
            lock.unlock();
        }
    }

    void releaseBytes(long n) {
        lock.lock();
        try {
            bytes -= n;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether a pool may keep a released buffer (still charged): no one waits and at most half is held. */
    boolean roomToKeep() {
        lock.lock();
        try {
            return waiters == 0 && bytes <= maxBytes / 2;
        } finally {
            lock.unlock();
        }
    }

    boolean tryRequest() {
        lock.lock();
        try {
            if (requests >= maxRequests) return false;
            requests++;
            return true;
        } finally {
            lock.unlock();
        }
    }

    void acquireRequest() throws InterruptedException {
        lock.lock();
        try {
            waiters++;
            try {
                while (requests >= maxRequests) changed.await(1, TimeUnit.SECONDS);
            } finally {
                waiters--;
            }
            requests++;
        } finally {
            lock.unlock();
        }
    }

    void releaseRequest() {
        lock.lock();
        try {
            requests--;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Room for one more enlarged input buffer of {@code n} bytes; never waits. */
    boolean tryInput(long n) {
        lock.lock();
        try {
            if (inputBytes + n > maxInputBytes) return false;
            inputBytes += n;
            return true;
        } finally {
            lock.unlock();
        }
    }

    void releaseInput(long n) {
        lock.lock();
        try {
            inputBytes -= n;
        } finally {
            lock.unlock();
        }
    }

    /** Native payload bytes held now (handed out or kept). */
    long bytes() {
        lock.lock();
        try {
            return bytes;
        } finally {
            lock.unlock();
        }
    }

    /** Requests in flight now. */
    int requests() {
        lock.lock();
        try {
            return requests;
        } finally {
            lock.unlock();
        }
    }
}

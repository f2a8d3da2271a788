package io.bmcast.bench;

import io.bmcast.storage.FilterExport;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A filter that counts the payload bytes read through an export, i.e. what crossed the (emulated) link from the
 * image server, and when the last read finished. Read-only traffic is all the startup benchmark moves; writes
 * are passed through uncounted.
 */
final class CountingExport extends FilterExport {
    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicLong reads = new AtomicLong();
    private volatile long lastReadEndNs;

    CountingExport(Export inner) {
        super(inner);
    }

    long bytesRead() {
        return bytesRead.get();
    }

    long reads() {
        return reads.get();
    }

    /** {@link System#nanoTime()} when the last read finished, or 0 before any. */
    long lastReadEndNs() {
        return lastReadEndNs;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        inner.read(offset, dst);
        bytesRead.addAndGet(n);
        reads.incrementAndGet();
        lastReadEndNs = System.nanoTime();
    }
}

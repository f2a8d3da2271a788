package io.bmcast.bench;

import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A filter that counts the payload bytes read through an export, i.e. what crossed the (emulated) link from the
 * image server, and when the last read finished. Read-only traffic is all the startup benchmark moves; writes
 * are passed through uncounted.
 */
final class CountingExport implements Export {
    private final Export inner;
    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicLong reads = new AtomicLong();
    private volatile long lastReadEndNs;

    CountingExport(Export inner) {
        this.inner = inner;
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

    @Override public String name() { return inner.name(); }
    @Override public String description() { return inner.description(); }
    @Override public long size() { return inner.size(); }
    @Override public boolean readOnly() { return inner.readOnly(); }
    @Override public boolean canTrim() { return inner.canTrim(); }
    @Override public boolean canWriteZeroes() { return inner.canWriteZeroes(); }
    @Override public boolean canFastZero() { return inner.canFastZero(); }
    @Override public boolean canFlush() { return inner.canFlush(); }
    @Override public boolean canCache() { return inner.canCache(); }
    @Override public boolean canMultiConn() { return inner.canMultiConn(); }
    @Override public int minimumBlockSize() { return inner.minimumBlockSize(); }
    @Override public int preferredBlockSize() { return inner.preferredBlockSize(); }
    @Override public boolean completesQuickly(long offset, long length) { return inner.completesQuickly(offset, length); }
    @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException { inner.write(offset, src, fua); }
    @Override public void flush() throws IOException { inner.flush(); }
    @Override public void trim(long offset, long length, boolean fua) throws IOException { inner.trim(offset, length, fua); }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        inner.writeZeroes(offset, length, noHole, fast, fua);
    }

    @Override public void cache(long offset, long length) throws IOException { inner.cache(offset, length); }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        inner.blockStatus(offset, length, sink);
    }

    @Override public void close() throws IOException { inner.close(); }
}

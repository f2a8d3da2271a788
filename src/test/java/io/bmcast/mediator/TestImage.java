package io.bmcast.mediator;

import io.bmcast.protocol.Nbd;
import io.bmcast.storage.ReadOnlyExport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * A read-only image over a byte array, reporting its all-zero 4 KiB blocks as holes, with counters and
 * failure injection: what a test needs to see what the mediator asked of the image server.
 */
final class TestImage implements ReadOnlyExport {
    static final int BLOCK = 4096;

    final byte[] data;
    /** Source reads per 4 KiB block. */
    final AtomicIntegerArray blockReads;
    final AtomicLong reads = new AtomicLong();
    final AtomicLong bytesRead = new AtomicLong();
    final AtomicLong blockStatusCalls = new AtomicLong();
    /** When set, reads (and block status) fail with it. */
    volatile IOException failure;
    /** When set, reads wait for it (after counting down {@link #entered}). */
    volatile CountDownLatch gate;
    volatile CountDownLatch entered;
    /** Called at the start of every read with its offset (delays, checks). */
    volatile LongConsumer onRead;
    /** Bytes asked for by the reads in progress now, and the most ever at once. */
    final AtomicLong bytesInRead = new AtomicLong();
    final AtomicLong peakBytesInRead = new AtomicLong();

    TestImage(byte[] data) {
        this.data = data;
        this.blockReads = new AtomicIntegerArray((data.length + BLOCK - 1) / BLOCK);
    }

    /** Random bytes, with the listed 4 KiB blocks zero (holes). */
    static TestImage random(long seed, int size, int... zeroBlocks) {
        byte[] d = new byte[size];
        new Random(seed).nextBytes(d);
        for (int i = 0; i < d.length; i++) if (d[i] == 0) d[i] = 1; // only holes are zero
        for (int b : zeroBlocks) java.util.Arrays.fill(d, b * BLOCK, Math.min(size, (b + 1) * BLOCK), (byte) 0);
        return new TestImage(d);
    }

    @Override
    public String name() {
        return "test-image";
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int asked = dst.remaining();
        peakBytesInRead.accumulateAndGet(bytesInRead.addAndGet(asked), Math::max);
        try {
            readCounted(offset, dst);
        } finally {
            bytesInRead.addAndGet(-asked);
        }
    }

    private void readCounted(long offset, ByteBuffer dst) throws IOException {
        LongConsumer hook = onRead;
        if (hook != null) hook.accept(offset);
        CountDownLatch e = entered;
        if (e != null) e.countDown();
        CountDownLatch g = gate;
        if (g != null) {
            try {
                if (!g.await(30, TimeUnit.SECONDS)) throw new IOException("test gate never opened");
            } catch (InterruptedException ie) {
                throw new IOException(ie);
            }
        }
        IOException f = failure;
        if (f != null) throw f;
        int len = dst.remaining();
        reads.incrementAndGet();
        bytesRead.addAndGet(len);
        for (long b = offset / BLOCK; b <= (offset + len - 1) / BLOCK; b++) blockReads.incrementAndGet((int) b);
        dst.put(data, (int) offset, len);
    }

    /** Extents at 4 KiB granularity, at most 8 per call (so callers must loop). */
    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        blockStatusCalls.incrementAndGet();
        IOException f = failure;
        if (f != null) throw f;
        long end = Math.min(data.length, offset + length);
        long pos = offset;
        for (int n = 0; n < 8 && pos < end; n++) {
            boolean zero = isZero(pos);
            long e = pos;
            while (e < end && isZero(e) == zero) e = Math.min(end, (e / BLOCK + 1) * BLOCK);
            if (!sink.extent(e - pos, zero ? Nbd.STATE_HOLE | Nbd.STATE_ZERO : 0)) return;
            pos = e;
        }
    }

    private boolean isZero(long pos) {
        int b = (int) (pos / BLOCK);
        for (int i = b * BLOCK; i < Math.min(data.length, (b + 1) * BLOCK); i++) if (data[i] != 0) return false;
        return true;
    }

    int blocksReadMoreThanOnce() {
        int n = 0;
        for (int i = 0; i < blockReads.length(); i++) if (blockReads.get(i) > 1) n++;
        return n;
    }
}

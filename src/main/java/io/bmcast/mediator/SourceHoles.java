package io.bmcast.mediator;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Which regions are entirely zero in the image, learnt lazily from the source's {@code base:allocation}
 * block status, one large chunk at a time, and cached for good (the image is read-only). A region reads as
 * zero when extents flagged {@code STATE_ZERO} cover all of it (servers flag holes {@code HOLE|ZERO}; a bare
 * {@code STATE_HOLE} does not promise zeros, so it is fetched); such a region needs no transfer. A chunk whose query failed stays unknown (its regions are fetched as data, or the query is
 * retried by a fetch a second later).
 */
final class SourceHoles {
    private static final int UNKNOWN = 0, KNOWN = 1;

    private final Export source;
    private final long size;
    private final int regionShift;
    private final int chunkShift;
    /** Zero bits, one per region; written only under {@link #lock} before the chunk is published KNOWN. */
    private final long[] zero;
    /** Per chunk UNKNOWN/KNOWN; published with volatile semantics after the chunk's zero bits. */
    private final AtomicIntegerArray chunkState;
    /** Guards the queries (one at a time: there are few, and they may block on the network). */
    private final Object lock = new Object();
    private volatile boolean unsupported;
    /**
     * After a failed query (the image server is away), no query before this instant (System.nanoTime):
     * meanwhile regions of unknown chunks are treated as data, which is always safe. Without this pause
     * every region of a batch would ask again and wait out the client's timeout each time, under the lock.
     */
    private volatile long noQueryBeforeNs = System.nanoTime();
    private static final long RETRY_AFTER_FAILURE_NS = 1_000_000_000L;

    SourceHoles(Export source, long size, int regionShift, long chunkBytes) {
        if (Long.bitCount(chunkBytes) != 1 || chunkBytes < (1L << regionShift)) {
            throw new IllegalArgumentException("block status chunk must be a power of two >= the region size");
        }
        this.source = source;
        this.size = size;
        this.regionShift = regionShift;
        this.chunkShift = Long.numberOfTrailingZeros(chunkBytes);
        long regions = (size + (1L << regionShift) - 1) >>> regionShift;
        this.zero = new long[LiveMap.words(regions)];
        this.chunkState = new AtomicIntegerArray((int) ((size + chunkBytes - 1) >>> chunkShift));
    }

    /**
     * Takes the image's data extents from a map the caller holds already (the control plane's cached metadata)
     * instead of asking the source: every chunk becomes KNOWN, so no query is ever made. A region is zero unless
     * an extent touches it. Call before the first {@link #isZero}.
     */
    void trust(ImageExtents map) {
        if (map.size() != size) throw new IllegalArgumentException("extents of " + map.size() + " bytes for an image of " + size);
        synchronized (lock) {
            markZero(0, size);
            for (long[] e : map.extents()) {
                if (e[1] == 0) continue;
                for (long r = e[0] >>> regionShift; r <= (e[0] + e[1] - 1) >>> regionShift; r++) {
                    zero[(int) (r >>> 6)] &= ~(1L << r);
                }
            }
            for (int c = 0; c < chunkState.length(); c++) chunkState.set(c, KNOWN); // publishes the bits above
        }
    }

    /** True when the image is all zeros over region {@code r}; may query the source (slow path only). */
    boolean isZero(int r) {
        if (unsupported) return false;
        int chunk = (int) (((long) r << regionShift) >>> chunkShift);
        if (chunkState.get(chunk) == UNKNOWN && System.nanoTime() - noQueryBeforeNs >= 0) query(chunk);
        return chunkState.get(chunk) == KNOWN && (zero[r >>> 6] & (1L << r)) != 0;
    }

    /** True when region {@code r} is known to be zero, without asking the source. */
    boolean knownZero(int r) {
        int chunk = (int) (((long) r << regionShift) >>> chunkShift);
        return chunkState.get(chunk) == KNOWN && (zero[r >>> 6] & (1L << r)) != 0;
    }

    /** True when region {@code r}'s block status is known (it was asked, or trusted from cached extents). */
    boolean known(int r) {
        return chunkState.get((int) (((long) r << regionShift) >>> chunkShift)) == KNOWN;
    }

    private void query(int chunk) {
        synchronized (lock) {
            if (chunkState.get(chunk) != UNKNOWN || unsupported) return;
            long start = (long) chunk << chunkShift;
            long end = Math.min(size, start + (1L << chunkShift));
            long[] pos = {start};
            long[] runStart = {-1};
            try {
                while (pos[0] < end) {
                    long before = pos[0];
                    source.blockStatus(pos[0], end - pos[0], (length, flags) -> {
                        long len = Math.min(length, end - pos[0]);
                        if (len <= 0) return false;
                        // STATE_ZERO is the promise that the bytes read as zero; STATE_HOLE alone only says
                        // "not allocated" (NBD spec: it may read otherwise, e.g. over a backing chain).
                        boolean z = (flags & Nbd.STATE_ZERO) != 0;
                        if (z && runStart[0] < 0) runStart[0] = pos[0];
                        if (!z && runStart[0] >= 0) {
                            markZero(runStart[0], pos[0]);
                            runStart[0] = -1;
                        }
                        pos[0] += len;
                        return pos[0] < end;
                    });
                    if (pos[0] == before) break; // no progress: treat the rest as data
                }
                if (runStart[0] >= 0) markZero(runStart[0], pos[0]);
                chunkState.set(chunk, KNOWN);
            } catch (NbdException e) {
                if (e.error() == Nbd.ENOTSUP || e.error() == Nbd.EINVAL) {
                    unsupported = true; // the source cannot tell: every region is data
                } else {
                    noQueryBeforeNs = System.nanoTime() + RETRY_AFTER_FAILURE_NS;
                }
                clearChunk(start, end);
            } catch (IOException | RuntimeException e) {
                clearChunk(start, end); // transient: stays UNKNOWN, asked again later
                noQueryBeforeNs = System.nanoTime() + RETRY_AFTER_FAILURE_NS;
            }
        }
    }

    private void clearChunk(long start, long end) {
        for (long off = start; off < end; off += 1L << regionShift) {
            int r = (int) (off >>> regionShift);
            zero[r >>> 6] &= ~(1L << r);
        }
    }

    /** Marks the regions entirely inside the zero run {@code [from, to)}; the image's short last region counts when the run reaches the end. */
    private void markZero(long from, long to) {
        long rs = 1L << regionShift;
        long first = (from + rs - 1) >>> regionShift;
        for (long r = first; (r << regionShift) < to; r++) {
            long regionEnd = Math.min(size, (r + 1) << regionShift);
            if (regionEnd > to) break;
            zero[(int) (r >>> 6)] |= 1L << r;
        }
    }
}

package io.bmcast.storage;

import io.bmcast.protocol.Nbd;
import io.bmcast.transport.Export;
import java.io.IOException;

/** Walks an export's {@code base:allocation} map: the data ranges (not holes), in order. */
public final class Extents {
    private Extents() {}

    /** Receives one data range. */
    @FunctionalInterface
    public interface DataRange {
        void data(long offset, long length) throws IOException;
    }

    /** Calls {@code range} for every extent of {@code export} that is not a hole, in ascending order. */
    public static void forEachData(Export export, DataRange range) throws IOException {
        long pos = 0;
        long size = export.size();
        long[] at = new long[1];
        while (pos < size) {
            at[0] = pos;
            IOException[] failed = new IOException[1];
            export.blockStatus(pos, Math.min(1L << 30, size - pos), (length, flags) -> {
                if ((flags & Nbd.STATE_HOLE) == 0) {
                    try {
                        range.data(at[0], length);
                    } catch (IOException e) {
                        failed[0] = e;
                        return false;
                    }
                }
                at[0] += length;
                return true;
            });
            if (failed[0] != null) throw failed[0];
            if (at[0] == pos) break; // nothing described: stop rather than loop
            pos = at[0];
        }
    }

    /** How many bytes of {@code export} are data rather than holes. */
    public static long dataBytes(Export export) throws IOException {
        long[] total = new long[1];
        forEachData(export, (offset, length) -> total[0] += length);
        return total[0];
    }
}

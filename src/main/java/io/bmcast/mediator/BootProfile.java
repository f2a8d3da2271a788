package io.bmcast.mediator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * The order in which a booting guest needed the image: every on-demand fetch appended as (offset, length),
 * so a later deployment of the same image can prefetch those bytes first. Byte ranges rather than region
 * numbers, so the profile survives a change of region size. A hint: never forced, a torn tail is ignored.
 *
 * <pre>
 *   0              8                 16            20
 *   +--------------+-----------------+-------------+-----------------+----
 *   | "BMCPROF1"   | offset u64      | length u32  | offset u64      | ...   (big-endian, 12-byte records)
 *   +--------------+-----------------+-------------+-----------------+----
 * </pre>
 */
final class BootProfile implements AutoCloseable {
    static final long MAGIC = 0x424D4350524F4631L; // "BMCPROF1"
    private static final int RECORD = 12;
    /** Enough for any boot (a Debian boot touches ~40 MiB); stops a long-running stream growing it. */
    private static final long MAX_RECORDS = 1 << 20;

    /** Guards the channel's append position. */
    private final Object lock = new Object();
    private final FileChannel channel;
    private long records;

    private BootProfile(FileChannel channel, long records) {
        this.channel = channel;
        this.records = records;
    }

    /** Opens {@code file} for appending, creating it with its magic when missing. */
    static BootProfile recorder(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        long size = ch.size();
        if (size < 8) {
            ch.write(ByteBuffer.allocate(8).putLong(0, MAGIC), 0);
            size = 8;
        }
        long records = (size - 8) / RECORD;
        ch.position(8 + records * RECORD); // drop a torn tail
        return new BootProfile(ch, records);
    }

    void record(long offset, int length) {
        synchronized (lock) {
            if (records >= MAX_RECORDS) return;
            try {
                channel.write(ByteBuffer.allocate(RECORD).putLong(0, offset).putInt(8, length));
                records++;
            } catch (IOException e) {
                records = MAX_RECORDS; // a hint only: stop recording rather than fail guest I/O
            }
        }
    }

    /**
     * The regions a profile names, in first-use order, each once; empty when the file is missing or not a
     * profile.
     */
    static int[] load(Path file, int regionShift, int regions) throws IOException {
        if (file == null || !Files.isRegularFile(file)) return new int[0];
        byte[] all = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(all);
        if (all.length < 8 || b.getLong(0) != MAGIC) return new int[0];
        BitSet seen = new BitSet(regions);
        int[] out = new int[16];
        int n = 0;
        for (int pos = 8; pos + RECORD <= all.length; pos += RECORD) {
            long off = b.getLong(pos);
            long len = Integer.toUnsignedLong(b.getInt(pos + 8));
            if (off < 0 || len == 0) continue;
            long first = off >>> regionShift;
            long last = (off + len - 1) >>> regionShift;
            for (long r = first; r <= last && r < regions; r++) {
                if (seen.get((int) r)) continue;
                seen.set((int) r);
                if (n == out.length) out = java.util.Arrays.copyOf(out, n * 2);
                out[n++] = (int) r;
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    @Override
    public void close() throws IOException {
        synchronized (lock) {
            channel.close();
        }
    }
}

package io.bmcast.mediator;

import io.bmcast.storage.BootProfileFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * The order in which a booting guest needed the image: every on-demand fetch appended as (offset, length, when), so a
 * later deployment of the same image can prefetch those bytes first, and a bench can replay the boot at its own pace.
 * Byte ranges rather than region numbers, so the profile survives a change of region size. A hint: never forced, a
 * torn tail is ignored. The bytes are {@link BootProfileFormat}'s: a new profile is BMCPROF2 (timed); one a mediator of
 * an earlier version began is continued as BMCPROF1, and either drives the hydration order.
 */
final class BootProfile implements AutoCloseable {
    /** Enough for any boot (a Debian boot touches ~40 MiB); stops a long-running stream growing it. */
    private static final long MAX_RECORDS = 1 << 20;

    /** Guards the channel's append position, the count and the clock's origin. */
    private final Object lock = new Object();
    private final FileChannel channel;
    private final int recordSize;
    private long records;
    /**
     * System.nanoTime of the first read: times are kept relative to it. A mediator restarted on a profile it began
     * before continues from the last recorded time, as if the restart took no time (its gap belongs to no boot).
     */
    private long originNs;
    private boolean originSet;
    private final long resumeAtMs;

    private BootProfile(FileChannel channel, int recordSize, long records, long resumeAtMs) {
        this.channel = channel;
        this.recordSize = recordSize;
        this.records = records;
        this.resumeAtMs = resumeAtMs;
    }

    /** Opens {@code file} for appending, creating it (BMCPROF2) when missing, continuing it in its own format when not. */
    static BootProfile recorder(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        long size = ch.size();
        ByteBuffer head = ByteBuffer.allocate(BootProfileFormat.HEADER);
        if (size >= BootProfileFormat.HEADER) ch.read(head, 0);
        int recordSize = size >= BootProfileFormat.HEADER ? BootProfileFormat.recordSize(head.getLong(0)) : -1;
        if (recordSize < 0) {
            // Missing, torn or not a profile: begin a timed one.
            ch.truncate(0);
            ch.write(ByteBuffer.allocate(BootProfileFormat.HEADER).putLong(0, BootProfileFormat.MAGIC_V2), 0);
            size = BootProfileFormat.HEADER;
            recordSize = BootProfileFormat.recordSize(BootProfileFormat.MAGIC_V2);
        }
        long records = (size - BootProfileFormat.HEADER) / recordSize;
        long resumeAtMs = 0;
        if (records > 0 && recordSize == 16) {
            ByteBuffer last = ByteBuffer.allocate(4);
            ch.read(last, BootProfileFormat.HEADER + (records - 1) * recordSize + 12);
            resumeAtMs = Integer.toUnsignedLong(last.getInt(0));
        }
        ch.position(BootProfileFormat.HEADER + records * recordSize); // drop a torn tail
        return new BootProfile(ch, recordSize, records, resumeAtMs);
    }

    /** Records an on-demand read of {@code length} bytes at {@code offset} that the guest asked for at {@code askedNs}. */
    void record(long offset, int length, long askedNs) {
        synchronized (lock) {
            if (records >= MAX_RECORDS) return;
            if (!originSet) {
                originNs = askedNs;
                originSet = true;
            }
            ByteBuffer b = ByteBuffer.allocate(recordSize);
            if (recordSize == 16) {
                BootProfileFormat.putTimed(b, offset, length, resumeAtMs + Math.max(0, (askedNs - originNs) / 1_000_000));
            } else {
                b.putLong(offset).putInt(length);
            }
            try {
                channel.write(b.flip());
                records++;
            } catch (IOException e) {
                records = MAX_RECORDS; // a hint only: stop recording rather than fail guest I/O
            }
        }
    }

    /**
     * The regions a profile names, in first-use order, each once; empty when the file is missing or not a
     * profile (either version).
     */
    static int[] load(Path file, int regionShift, int regions) throws IOException {
        if (file == null || !Files.isRegularFile(file)) return new int[0];
        byte[] all = Files.readAllBytes(file);
        if (BootProfileFormat.recordSize(all) < 0) return new int[0];
        BitSet seen = new BitSet(regions);
        int[] out = new int[16];
        int n = 0;
        for (BootProfileFormat.Read read : BootProfileFormat.decode(all)) {
            long off = read.offset();
            long len = read.length();
            if (off < 0) continue;
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

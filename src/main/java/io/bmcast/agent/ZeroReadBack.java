package io.bmcast.agent;

import com.sun.nio.file.ExtendedOpenOption;
import io.bmcast.util.Units;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The block-device scrub's proof: every byte of the device read back and found zero. Reads bypass the page cache
 * ({@code O_DIRECT}: the device's answer, not what the cache remembers) in large positional reads into one
 * buffer, and the zero check is a vectorized {@link MemorySegment#mismatch} against a zero segment, so a long
 * device costs the device's read rate and no garbage. Progress goes to the agent log every
 * {@link #PROGRESS_NS}, since a large disk takes minutes.
 */
final class ZeroReadBack {
    private static final Logger LOG = System.getLogger("io.bmcast.agent");
    /** 8 MiB: large enough that the per-read cost vanishes, small enough for any agent's heap (off-heap anyway). */
    static final int CHUNK = 8 << 20;
    /** O_DIRECT's alignment for the buffer, offsets and lengths: the largest logical block size in use. */
    static final int ALIGN = 4096;
    static final long PROGRESS_NS = 10_000_000_000L;

    private ZeroReadBack() {}

    /** Null when all {@code size} bytes of {@code path} read as zeros, else where the first non-zero byte is. */
    static String check(Path path, long size) throws IOException {
        long aligned = size & ~(long) (ALIGN - 1);
        long t0 = System.nanoTime();
        long lastLog = t0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment zeros = arena.allocate(CHUNK); // allocate() zeroes it
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK + ALIGN).alignedSlice(ALIGN);
            MemorySegment seg = MemorySegment.ofBuffer(buf);
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
                for (long off = 0; off < aligned; ) {
                    int n = (int) Math.min(CHUNK, aligned - off);
                    String found = readAt(ch, buf, seg, zeros, path, off, n);
                    if (found != null) return found;
                    off += n;
                    long now = System.nanoTime();
                    if (now - lastLog >= PROGRESS_NS) {
                        lastLog = now;
                        LOG.log(Level.INFO, String.format(Locale.ROOT, "verifying %s: %s of %s read back, all zeros so far (%.0f MiB/s)",
                                path, Units.formatSize(off), Units.formatSize(size), off / 1048576.0 / ((now - t0) / 1e9)));
                    }
                }
            }
            if (aligned < size) {
                // A device whose size is not a multiple of 4 KiB (512-byte sectors): its tail cannot be read with
                // O_DIRECT's alignment here, so it is read through the cache, which every wipe ioctl invalidates.
                try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                    return readAt(ch, buf, seg, zeros, path, aligned, (int) (size - aligned));
                }
            }
            return null;
        }
    }

    private static String readAt(FileChannel ch, ByteBuffer buf, MemorySegment seg, MemorySegment zeros, Path path, long off, int n)
            throws IOException {
        buf.clear().limit(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf, off + buf.position()) < 0) return path + " ended at " + (off + buf.position()) + ", before its size";
        }
        long at = MemorySegment.mismatch(seg, 0, n, zeros, 0, n);
        return at < 0 ? null : "non-zero bytes in " + path + " at offset " + (off + at);
    }
}

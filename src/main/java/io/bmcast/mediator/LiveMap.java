package io.bmcast.mediator;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The live region map: one bit per region, set once the region's data is in the local disk's page cache,
 * and before any write into it is acknowledged. It lives in a shared file mapping, so its pages belong to
 * the kernel: a {@code kill -9} of the mediator loses none of it, exactly as it loses none of the local
 * disk's dirty pages. It is never forced (a power loss also loses the data it describes); after a reboot
 * it is rebuilt from the committed map. The boot id it was last valid for is in its header.
 *
 * <pre>
 *   0                   8                  16          20                          84        4096
 *   +-------------------+------------------+-----------+---------------------------+---------+-----------...
 *   | magic "BMCLIVE1"  | region count u64 | idLen u32 | boot id (ASCII, <= 64 B)  | (zero)  | bitmap: u64 words,
 *   +-------------------+------------------+-----------+---------------------------+---------+ bit r%64 of word r/64
 * </pre>
 * Native byte order: the file never leaves the machine.
 */
final class LiveMap implements AutoCloseable {
    static final long MAGIC = 0x31455649_4C434D42L; // "BMCLIVE1" read as a little-endian long
    static final int BITMAP_OFFSET = 4096;
    private static final int ID_OFFSET = 20;
    private static final int ID_MAX = 64;
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final Arena arena;
    private final MemorySegment map;
    private final int words;
    private final boolean valid;

    private LiveMap(Arena arena, MemorySegment map, int words, boolean valid) {
        this.arena = arena;
        this.map = map;
        this.words = words;
        this.valid = valid;
    }

    static int words(long regions) {
        return (int) ((regions + 63) >>> 6);
    }

    /** Maps {@code file}, creating or resetting it (all bits clear, no boot id) when it does not fit. */
    static LiveMap open(Path file, long regions) throws IOException {
        int words = words(regions);
        long size = BITMAP_OFFSET + (long) words * 8;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            boolean fits = ch.size() == size;
            if (!fits) {
                ch.truncate(0);
                ch.write(java.nio.ByteBuffer.allocate(1), size - 1); // sized, sparse
            }
            Arena arena = Arena.ofShared();
            MemorySegment map = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            boolean valid = fits && map.get(ValueLayout.JAVA_LONG, 0) == MAGIC
                    && map.get(ValueLayout.JAVA_LONG, 8) == regions;
            if (!valid) {
                map.fill((byte) 0);
                map.set(ValueLayout.JAVA_LONG, 8, regions);
                map.set(ValueLayout.JAVA_LONG, 0, MAGIC);
            }
            return new LiveMap(arena, map, words, valid);
        }
    }

    /** False when the file was missing or did not describe this image (it is now empty). */
    boolean wasValid() {
        return valid;
    }

    String bootId() {
        int len = map.get(ValueLayout.JAVA_INT, 16);
        if (len <= 0 || len > ID_MAX) return null;
        byte[] b = new byte[len];
        MemorySegment.copy(map, ValueLayout.JAVA_BYTE, ID_OFFSET, b, 0, len);
        return new String(b, StandardCharsets.US_ASCII);
    }

    void bootId(String id) {
        byte[] b = id == null ? new byte[0] : id.getBytes(StandardCharsets.US_ASCII);
        if (b.length > ID_MAX) throw new IllegalArgumentException("boot id longer than " + ID_MAX + " bytes");
        map.set(ValueLayout.JAVA_INT, 16, 0);
        MemorySegment.copy(b, 0, map, ValueLayout.JAVA_BYTE, ID_OFFSET, b.length);
        VarHandle.releaseFence();
        map.set(ValueLayout.JAVA_INT, 16, b.length);
    }

    boolean get(int region) {
        long w = (long) WORD.getAcquire(map, BITMAP_OFFSET + ((long) (region >>> 6) << 3));
        return (w & (1L << region)) != 0;
    }

    /** Sets a region's bit; atomic, since neighbouring regions share the word. */
    void set(int region) {
        WORD.getAndBitwiseOr(map, BITMAP_OFFSET + ((long) (region >>> 6) << 3), 1L << region);
    }

    /** A copy of the bitmap: every bit set before this call is in it. */
    long[] snapshot() {
        long[] out = new long[words];
        for (int i = 0; i < words; i++) out[i] = (long) WORD.getAcquire(map, BITMAP_OFFSET + ((long) i << 3));
        return out;
    }

    /** Replaces the bitmap (recovery after a reboot). */
    void load(long[] bits) {
        for (int i = 0; i < words; i++) WORD.setRelease(map, BITMAP_OFFSET + ((long) i << 3), bits[i]);
    }

    @Override
    public void close() {
        arena.close(); // unmaps; the pages stay in the page cache and reach the file in due course
    }
}

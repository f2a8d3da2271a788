package io.bmcast.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/** Test images: random data, with holes where asked. */
public final class TestFiles {
    private TestFiles() {}

    /** A file of {@code size} random bytes (seeded). */
    public static Path random(Path file, long size, long seed) throws IOException {
        Random r = new Random(seed);
        byte[] block = new byte[1 << 20];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(0);
            for (long pos = 0; pos < size; pos += block.length) {
                r.nextBytes(block);
                f.write(block, 0, (int) Math.min(block.length, size - pos));
            }
        }
        return file;
    }

    /**
     * A sparse file of {@code size} bytes with random data only in {@code [dataRanges[2i], +dataRanges[2i+1])}
     * (offsets and lengths multiples of 64 KiB so the file system keeps the holes).
     */
    public static Path sparse(Path file, long size, long seed, long... dataRanges) throws IOException {
        Random r = new Random(seed);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(0);
            f.setLength(size);
            for (int i = 0; i < dataRanges.length; i += 2) {
                byte[] b = new byte[(int) dataRanges[i + 1]];
                r.nextBytes(b);
                f.seek(dataRanges[i]);
                f.write(b);
            }
        }
        return file;
    }

    public static boolean sameContent(Path a, Path b) throws IOException {
        return Files.mismatch(a, b) == -1L;
    }

    /**
     * Offset of the first byte where two raw images differ, or -1 when they are equal. Uses {@code qemu-img
     * compare}, which skips holes on both sides, so two 32 GiB sparse disks compare in well under a second
     * (Files.mismatch would read every zero).
     */
    public static long firstDifference(Path a, Path b) {
        Tools.Result r = Tools.run(java.time.Duration.ofMinutes(5), "qemu-img", "compare", "-f", "raw", "-F", "raw",
                a.toString(), b.toString());
        if (r.exitCode() == 0) return -1;
        var m = java.util.regex.Pattern.compile("mismatch at offset (\\d+)").matcher(r.stdout());
        if (r.exitCode() != 1 || !m.find()) r.requireSuccess("qemu-img compare " + a + " " + b);
        return Long.parseLong(m.group(1));
    }

    public static byte[] bytes(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }
}

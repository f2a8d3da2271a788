package io.bmcast.guest;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * Incompressible, reproducible files written into a guest's root so a test can prove, from inside the guest,
 * that every byte it read came through the mediated disk intact ({@code sha256sum -c SHA256SUMS}). Pseudo-random
 * rather than zeros because zeros are holes to mke2fs and to NBD BLOCK_STATUS, and would never be transferred.
 */
public final class TestData {
    private TestData() {}

    /** Name of the checksum file, in the format {@code sha256sum -c} reads. */
    public static final String SUMS = "SHA256SUMS";
    private static final int CHUNK = 1 << 20;

    /**
     * Writes {@code count} files of {@code size} bytes named {@code data-01.bin}.. into {@code dir} plus
     * {@link #SUMS}; returns name to SHA-256 (hex).
     */
    public static Map<String, String> writeFiles(Path dir, int count, long size, long seed) throws IOException {
        Files.createDirectories(dir);
        Map<String, String> sums = new LinkedHashMap<>();
        StringBuilder sumsFile = new StringBuilder();
        for (int i = 1; i <= count; i++) {
            String name = String.format("data-%02d.bin", i);
            String sha = writeRandom(dir.resolve(name), size, seed * 1_000_003L + i);
            sums.put(name, sha);
            sumsFile.append(sha).append("  ").append(name).append('\n');
        }
        Files.writeString(dir.resolve(SUMS), sumsFile);
        return sums;
    }

    /** Writes {@code size} pseudo-random bytes from {@code seed}; returns their SHA-256 in hex. */
    public static String writeRandom(Path file, long size, long seed) throws IOException {
        return writeRandom(file, size, seed, done -> {});
    }

    /** As {@link #writeRandom(Path, long, long)}, telling {@code written} the bytes written so far after each chunk. */
    public static String writeRandom(Path file, long size, long seed, LongConsumer written) throws IOException {
        MessageDigest sha = sha256();
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] buf = new byte[CHUNK];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long done = 0; done < size; ) {
                int n = (int) Math.min(buf.length, size - done);
                for (int i = 0; i < n; i += 8) {
                    long r = rnd.nextLong();
                    for (int b = 0; b < 8 && i + b < n; b++) buf[i + b] = (byte) (r >>> (8 * b));
                }
                out.write(buf, 0, n);
                sha.update(buf, 0, n);
                done += n;
                written.accept(done);
            }
        }
        return Sha256.hex(sha);
    }

    static MessageDigest sha256() {
        return Sha256.digest();
    }
}

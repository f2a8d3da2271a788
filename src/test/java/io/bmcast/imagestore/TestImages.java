package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Test images in a store, written the way a push writes them (chunks named by the SHA-256 of their stored bytes,
 * zstd where it pays, all-zero chunks as holes, the manifest last), for tests that read from a store before
 * {@code image push} exists on their branch.
 */
public final class TestImages {
    private TestImages() {}

    /** Bytes with data, zero runs (holes) and compressible runs: every chunk kind. */
    public static byte[] mixed(int chunks, int chunkSize, long seed) {
        byte[] b = new byte[chunks * chunkSize];
        Random r = new Random(seed);
        for (int i = 0; i < chunks; i++) {
            int off = i * chunkSize;
            switch (i % 4) {
                case 0 -> { } // a hole: stays zero
                case 1 -> {
                    byte[] x = new byte[chunkSize];
                    r.nextBytes(x);
                    System.arraycopy(x, 0, b, off, chunkSize);
                }
                case 2 -> {
                    for (int j = 0; j < chunkSize; j++) b[off + j] = (byte) ("bmcast " + i).charAt(j % ("bmcast " + i).length());
                }
                default -> {
                    byte[] x = new byte[chunkSize / 2];
                    r.nextBytes(x);
                    System.arraycopy(x, 0, b, off + chunkSize / 4, x.length);
                }
            }
        }
        return b;
    }

    /** Pushes {@code image} to {@code at} in chunks of {@code chunkSize}; returns the manifest it wrote. */
    public static Manifest push(StoreClient c, StoreLocation at, byte[] image, int chunkSize) throws IOException {
        c.ensureBucket();
        List<Manifest.Chunk> chunks = new ArrayList<>();
        for (long off = 0; off < image.length; off += chunkSize) {
            int len = (int) Math.min(chunkSize, image.length - off);
            ByteBuffer raw = ByteBuffer.wrap(image, (int) off, len).slice();
            if (allZero(raw)) {
                chunks.add(null);
                continue;
            }
            ChunkCodec.Encoded e = ChunkCodec.encode(raw);
            String sha = Sha256.hex(e.stored());
            c.put(at.chunkKey(sha), e.stored(), "application/octet-stream");
            chunks.add(new Manifest.Chunk(sha, e.encoding(), e.stored().remaining()));
        }
        Manifest m = new Manifest(image.length, chunkSize, chunks, null, null, null, List.of(), null, null);
        c.put(at.manifestKey(), ByteBuffer.wrap(m.toJson()), "application/json");
        return m;
    }

    /** Pushes a file (read whole: test images are small). */
    public static Manifest push(StoreClient c, StoreLocation at, Path file, int chunkSize) throws IOException {
        return push(c, at, Files.readAllBytes(file), chunkSize);
    }

    private static boolean allZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) if (b.get(i) != 0) return false;
        return true;
    }
}

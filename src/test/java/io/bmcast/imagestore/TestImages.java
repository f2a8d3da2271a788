package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import io.bmcast.storage.FileHoles;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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

    /** Pushes a (sparse) file, reading only the chunks that hold data (SEEK_DATA), in parallel. */
    public static Manifest push(StoreClient c, StoreLocation at, Path file, int chunkSize) throws IOException {
        c.ensureBucket();
        long size = Files.size(file);
        int count = (int) ((size + chunkSize - 1) / chunkSize);
        Manifest.Chunk[] chunks = new Manifest.Chunk[count];
        List<Integer> data = new ArrayList<>();
        try (FileHoles holes = FileHoles.open(file, false)) {
            long off = 0;
            while (off < size) {
                long d = holes.nextData(off);
                if (d < 0 || d >= size) break;
                int i = (int) (d / chunkSize);
                data.add(i);
                off = (long) (i + 1) * chunkSize;
            }
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> all = new ArrayList<>();
            for (int i : data) {
                all.add(pool.submit(() -> {
                    int len = (int) Math.min(chunkSize, size - (long) i * chunkSize);
                    ByteBuffer raw = ByteBuffer.allocate(len);
                    while (raw.hasRemaining() && ch.read(raw, (long) i * chunkSize + raw.position()) >= 0) {
                        // fill
                    }
                    raw.flip();
                    if (allZero(raw)) return null;
                    ChunkCodec.Encoded e = ChunkCodec.encode(raw);
                    String sha = Sha256.hex(e.stored());
                    c.put(at.chunkKey(sha), e.stored(), "application/octet-stream");
                    chunks[i] = new Manifest.Chunk(sha, e.encoding(), e.stored().remaining());
                    return null;
                }));
            }
            for (Future<?> f : all) f.get();
        } catch (InterruptedException | ExecutionException e) {
            throw new IOException("pushing " + file + ": " + e, e);
        }
        Manifest m = new Manifest(size, chunkSize, Arrays.asList(chunks), null, null, null, List.of(), null, null);
        c.put(at.manifestKey(), ByteBuffer.wrap(m.toJson()), "application/json");
        return m;
    }

    private static boolean allZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) if (b.get(i) != 0) return false;
        return true;
    }
}

package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.bmcast.util.Units;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The figures for the closing note, not a check that runs by default (minutes and ~12 GiB of disk):
 * {@code mvn -o test -Dtest=StoreFiguresTest -Dbmcast.storeFigures=true}. Two 1 GiB sparse images with random data
 * extents sharing most chunks (push time, dedup), and the time to verify a 4 GiB data-dense image.
 */
class StoreFiguresTest {
    private static final int MIB = 1 << 20;

    @TempDir Path dir;

    @Test
    void pushDedupAndVerifyFigures() throws Exception {
        assumeTrue(Boolean.getBoolean("bmcast.storeFigures"), "set -Dbmcast.storeFigures=true to measure");
        try (LocalS3 s3 = LocalS3.start(dir.resolve("s3"))) {
            LocalS3.useLocalCredentials();
            StoreLocation a = s3.location("figures", "img/a");
            try (StoreClient c = StoreClient.open(a)) {
                c.ensureBucket();
                // Two 1 GiB sparse images: ~600 MiB of random data in extents of 1-32 MiB, the second with 5% of
                // its data chunks changed (a few bytes each).
                Random r = new Random(42);
                Path fa = dir.resolve("a.img");
                long size = 1L << 30;
                try (RandomAccessFile raf = new RandomAccessFile(fa.toFile(), "rw")) {
                    raf.setLength(size);
                    long pos = 0;
                    while (pos < size) {
                        long gap = (1 + r.nextInt(16)) * (long) MIB;
                        long len = Math.min((1 + r.nextInt(32)) * (long) MIB, size - pos - gap);
                        if (len <= 0) break;
                        pos += gap;
                        byte[] b = new byte[(int) len];
                        r.nextBytes(b);
                        raf.seek(pos);
                        raf.write(b);
                        pos += len;
                    }
                }
                Path fb = dir.resolve("b.img");
                Files.copy(fa, fb);
                Pusher.Summary sa = new Pusher(c, a).push(options(fa), new TransferProgress("push", "uploaded"));
                Manifest ma = c.manifest(a);
                int changed = 0;
                try (RandomAccessFile raf = new RandomAccessFile(fb.toFile(), "rw")) {
                    for (int i = 0; i < ma.chunkCount(); i++) {
                        if (ma.chunk(i) != null && r.nextInt(20) == 0) {
                            raf.seek(ma.chunkOffset(i) + 100);
                            raf.write(("changed " + i).getBytes(StandardCharsets.US_ASCII));
                            changed++;
                        }
                    }
                }
                StoreLocation b = s3.location("figures", "img/b");
                Pusher.Summary sb = new Pusher(c, b).push(options(fb), new TransferProgress("push", "uploaded"));
                assertEquals(changed, sb.uploaded());
                System.out.printf(Locale.ROOT, "FIGURE push a: %s image, %s data, %d chunks uploaded, %.1f s (%s)%n", Units.formatSize(sa.size()),
                        Units.formatSize(sa.dataBytes()), sa.uploaded(), sa.nanos() / 1e9, Units.formatRate(sa.uploadedBytes() / (sa.nanos() / 1e9)));
                System.out.printf(Locale.ROOT, "FIGURE push b: %d of %d data chunks uploaded, %d already stored: dedup %.1f%%, %.1f s%n",
                        sb.uploaded(), sb.dataChunks(), sb.present(), 100 * sb.dedup(), sb.nanos() / 1e9);
                Files.delete(fa);
                Files.delete(fb);

                // 4 GiB, every chunk data: half text-like (zstd shrinks it), half random.
                Path big = dir.resolve("big.img");
                try (FileChannel ch = FileChannel.open(big, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
                    byte[] chunk = new byte[MIB];
                    for (int i = 0; i < 4096; i++) {
                        if (i % 2 == 0) {
                            r.nextBytes(chunk);
                        } else {
                            byte[] line = ("chunk " + i + " of a log line that repeats, as logs do\n").getBytes(StandardCharsets.US_ASCII);
                            for (int k = 0; k < MIB; k++) chunk[k] = line[k % line.length];
                        }
                        ByteBuffer bb = ByteBuffer.wrap(chunk);
                        while (bb.hasRemaining()) ch.write(bb);
                    }
                }
                StoreLocation v = s3.location("figures", "img/big");
                Pusher.Summary sv = new Pusher(c, v).push(options(big), new TransferProgress("push", "uploaded"));
                Files.delete(big);
                ImageVerifier.Result res = new ImageVerifier(c, v).verify(8, new TransferProgress("verify", "fetched"));
                assertTrue(res.ok());
                System.out.printf(Locale.ROOT, "FIGURE push big: %s data, %s stored, %.1f s%n", Units.formatSize(sv.dataBytes()),
                        Units.formatSize(sv.storedBytes()), sv.nanos() / 1e9);
                System.out.printf(Locale.ROOT, "FIGURE verify big: %d chunks, %s stored = %s data, %.1f s (%s of data)%n", res.dataChunks(),
                        Units.formatSize(res.storedBytes()), Units.formatSize(res.dataBytes()), res.nanos() / 1e9,
                        Units.formatRate(res.dataBytes() / (res.nanos() / 1e9)));
            }
        }
    }

    private static Pusher.Options options(Path f) {
        return new Pusher.Options(f, Manifest.DEFAULT_CHUNK, null, null, null, null, 8);
    }

}

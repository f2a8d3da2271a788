package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.bmcast.storage.FileHoles;
import io.bmcast.testing.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The node's own scrub: a disk that held a tenant's data holds none after it, and a scrub that did not work says so. */
class ScrubberTest {
    static final long GIB = 1L << 30;

    @TempDir
    Path tmp;

    @Test
    @Timeout(120)
    void sparseDiskWithDataEverywhereIsScrubbedAndVerified() throws IOException {
        MachineDisk disk = MachineDisk.sparseFile(tmp.resolve("disk.img"), 32 * GIB);
        long written = writeRandomAt(disk.path(), 32 * GIB, 400, 1 << 20, 1);
        assertNotNull(disk.verify(), "a disk with data must not pass the verification");

        Scrubber.Outcome o = Scrubber.scrub(disk);

        assertTrue(o.clean(), o.reason());
        try (FileHoles f = FileHoles.open(disk.path(), false)) {
            assertEquals(-1, f.nextData(0), "SEEK_DATA still finds data");
            assertEquals(32 * GIB, f.size(), "the disk keeps its size");
        }
        System.out.printf(Locale.ROOT, "scrub of a 32 GiB sparse disk holding %d MiB: wipe %.3f s, verify %.3f s%n",
                written >> 20, o.wipeNanos() / 1e9, o.verifyNanos() / 1e9);
    }

    @Test
    @Timeout(60)
    void aDiskThatCannotBeWipedIsReportedNotClean() throws IOException {
        assumeTrue(Tools.find("chattr") != null && "root".equals(System.getProperty("user.name")), "needs chattr as root");
        MachineDisk disk = MachineDisk.sparseFile(tmp.resolve("disk.img"), 8 * GIB);
        writeRandomAt(disk.path(), 8 * GIB, 20, 64 << 10, 2);
        // Append-only: the file system refuses to punch it, as a broken or read-only disk would.
        Tools.run(Duration.ofSeconds(10), "chattr", "+a", disk.path().toString()).requireSuccess("chattr +a");
        try {
            Scrubber.Outcome o = Scrubber.scrub(disk);
            assertFalse(o.clean(), "an unpunchable disk passed the scrub");
            assertTrue(o.reason().contains("data left"), o.reason());
            assertTrue(o.reason().contains("wiping"), "the wipe's own error belongs in the reason: " + o.reason());
        } finally {
            Tools.run(Duration.ofSeconds(10), "chattr", "-a", disk.path().toString());
        }
    }

    @Test
    @Timeout(300)
    void everyScrubModeWipesABlockDeviceAndReadsItBackWholeOrIsRefused() throws Exception {
        Path backing = sparse(tmp.resolve("backing.img"), 2 * GIB);
        Path dev = attach(backing);
        try {
            for (ScrubMode mode : List.of(ScrubMode.ZERO, ScrubMode.DISCARD)) {
                MachineDisk disk = MachineDisk.blockDevice(dev, mode);
                assertEquals(2 * GIB, disk.size());
                writeRandomAt(dev, 2 * GIB, 64, 1 << 20, 3);
                Tools.run(Duration.ofSeconds(30), "sync").requireSuccess("sync");
                assertNotNull(disk.verify(), "random data on the device must fail the verification");

                Scrubber.Outcome o = Scrubber.scrub(disk);

                assertTrue(o.clean(), mode + ": " + o.reason());
                assertTrue(o.method().startsWith(mode.wire() + " ("), o.method());
                assertNull(disk.verify());
                System.out.printf(Locale.ROOT, "scrub of a 2 GiB loop device, %s: wipe %.3f s, full read-back %.3f s (%.2f s per GiB)%n",
                        o.method(), o.wipeNanos() / 1e9, o.verifyNanos() / 1e9, o.seconds() / 2);
            }
            // A loop device has no secure erase: the agent refuses to start with that mode instead of failing a tenant later.
            IOException e = assertThrows(IOException.class, () -> MachineDisk.blockDevice(dev, ScrubMode.SECURE_ERASE));
            assertEquals(dev + " cannot secure-erase (secure-erase (BLKSECDISCARD, full read-back): not supported by the device); use --scrub zero",
                    e.getMessage());
        } finally {
            detach(dev);
        }
    }

    /**
     * The old proof read the first and last MiB and 256 random 4 KiB blocks: one block of a tenant's data anywhere
     * else in 2 GiB passed it 99.95% of the time (a thin pool or RAID set that takes a discard as a mere hint keeps
     * such blocks). The full read-back finds it, at its offset; the zero-out then clears it.
     */
    @Test
    @Timeout(300)
    void theFullReadBackFindsTheOneBlockASampleMisses() throws Exception {
        Path backing = sparse(tmp.resolve("backing.img"), 2 * GIB);
        long planted = GIB + 4096L * 777 + 100;
        try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
            f.seek(planted);
            f.write("a tenant's secret".getBytes(StandardCharsets.US_ASCII));
        }
        Path dev = attach(backing);
        try {
            MachineDisk disk = MachineDisk.blockDevice(dev);
            assertNull(sampled(dev, 2 * GIB, 42), "the old sampled proof would have passed this device");
            assertEquals("non-zero bytes in " + dev + " at offset " + planted, disk.verify());

            Scrubber.Outcome o = Scrubber.scrub(disk);

            assertTrue(o.clean(), o.reason());
            assertNull(disk.verify());
        } finally {
            detach(dev);
        }
    }

    /** The proof this project used before issue 12 (first and last MiB, 256 random blocks), for comparison only. */
    private static String sampled(Path dev, long size, long seed) throws IOException {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect((1 << 20) + 4096).alignedSlice(4096);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(dev, java.nio.file.StandardOpenOption.READ,
                com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
            List<long[]> ranges = new java.util.ArrayList<>(List.of(new long[] {0, 1 << 20}, new long[] {size - (1 << 20), 1 << 20}));
            for (int i = 0; i < 256; i++) ranges.add(new long[] {rnd.nextLong(size / 4096) * 4096, 4096});
            for (long[] r : ranges) {
                buf.clear().limit((int) r[1]);
                while (buf.hasRemaining()) ch.read(buf, r[0] + buf.position());
                for (int i = 0; i < r[1]; i += 8) if (buf.getLong(i) != 0) return "non-zero at " + (r[0] + i);
            }
        }
        return null;
    }

    @Test
    @Timeout(120)
    void aProcessHoldingTheDeviceOpenBlocksTheScrubUntilItExits() throws Exception {
        Path dev = attach(sparse(tmp.resolve("backing.img"), GIB / 4));
        Process holder = null;
        try {
            MachineDisk disk = MachineDisk.blockDevice(dev);
            writeRandomAt(dev, GIB / 4, 4, 64 << 10, 5);
            holder = new ProcessBuilder("sh", "-c", "exec 3<\"$0\"; exec sleep 600", dev.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            long pid = ScrubSafetyTest.awaitHolder(dev);
            assertEquals(holder.pid(), pid);

            Scrubber.Outcome refused = Scrubber.scrub(disk);

            assertFalse(refused.clean());
            assertEquals("scrub refused: " + dev + " is open by pid " + pid + " (sleep 600)", refused.reason());
            assertNotNull(disk.verify(), "the device was wiped while it was held");
            holder.destroyForcibly();
            assertTrue(holder.waitFor(10, TimeUnit.SECONDS));
            Scrubber.Outcome o = Scrubber.scrub(disk);
            assertTrue(o.clean(), o.reason());
        } finally {
            if (holder != null) holder.destroyForcibly();
            detach(dev);
        }
    }

    static Path sparse(Path file, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
        return file;
    }

    /** A loop device over {@code backing} (skips the test where there is none); detach it in a finally. */
    static Path attach(Path backing) throws IOException {
        assumeTrue(Tools.find("losetup") != null && "root".equals(System.getProperty("user.name")), "needs losetup as root");
        Tools.Result attach = Tools.run(Duration.ofSeconds(30), "losetup", "--find", "--show", backing.toString());
        assumeTrue(attach.exitCode() == 0, "no loop device here: " + attach.stderr());
        return Path.of(attach.stdout().trim());
    }

    static void detach(Path dev) {
        Tools.run(Duration.ofSeconds(30), "losetup", "-d", dev.toString());
    }

    /**
     * Writes {@code count} chunks of random bytes at random offsets spread over the whole disk, plus its first and
     * last chunk (so offsets far past 4 GiB are always covered); returns the bytes written.
     */
    static long writeRandomAt(Path disk, long size, int count, int chunk, long seed) throws IOException {
        Random r = new Random(seed);
        byte[] b = new byte[chunk];
        long total = 0;
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            for (int i = 0; i < count + 2; i++) {
                long off = i == 0 ? 0 : i == 1 ? size - chunk : (r.nextLong(size - chunk) & ~4095L);
                r.nextBytes(b);
                f.seek(off);
                f.write(b);
                total += chunk;
            }
            f.getFD().sync();
        }
        assertTrue(Files.size(disk) == size || !Files.isRegularFile(disk));
        return total;
    }
}

package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.bmcast.storage.FileHoles;
import io.bmcast.testing.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Random;
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
    @Timeout(120)
    void blockDeviceIsDiscardedAndReadBackAsZeros() throws IOException {
        assumeTrue(Tools.find("losetup") != null && "root".equals(System.getProperty("user.name")), "needs losetup as root");
        Path backing = tmp.resolve("backing.img");
        try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
            f.setLength(6 * GIB);
        }
        Tools.Result attach = Tools.run(Duration.ofSeconds(30), "losetup", "--find", "--show", backing.toString());
        assumeTrue(attach.exitCode() == 0, "no loop device here: " + attach.stderr());
        Path dev = Path.of(attach.stdout().trim());
        try {
            MachineDisk disk = MachineDisk.blockDevice(dev);
            assertEquals(6 * GIB, disk.size());
            writeRandomAt(dev, 6 * GIB, 64, 1 << 20, 3);
            Tools.run(Duration.ofSeconds(30), "sync").requireSuccess("sync");
            assertNotNull(disk.verify(), "random data on the device must fail the verification (first and last MiB are written)");

            Scrubber.Outcome o = Scrubber.scrub(disk);

            assertTrue(o.clean(), o.reason());
            assertNull(disk.verify());
        } finally {
            Tools.run(Duration.ofSeconds(30), "losetup", "-d", dev.toString());
        }
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

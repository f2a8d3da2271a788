package io.bmcast.mediator;

import static io.bmcast.mediator.Fixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The defects a review of the mediator found (issue 8, item 5): each test failed before its fix. */
class MediatorDefectsTest {
    private static final int RS = 16 << 10;
    private static final long MS = 1_000_000L;

    @TempDir
    Path tmp;

    @Test
    void anOutOfMemoryErrorDuringAFetchAnswersWithEioAndLeavesNoRegionFetching() throws Exception {
        TestImage image = TestImage.random(11, 256 << 10);
        AtomicInteger ooms = new AtomicInteger(1);
        image.onRead = off -> {
            if (ooms.getAndDecrement() > 0) throw new OutOfMemoryError("Java heap space (injected)");
        };
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b").withDurability(NO_SYNC))) {
            NbdException e = assertThrows(NbdException.class, () -> read(disk, 5000, 3 * RS));
            assertEquals(Nbd.EIO, e.error());
            for (int r = 0; r < disk.regions(); r++) {
                assertEquals(RegionMap.ABSENT, disk.map().state(r), "region " + r + " left behind by the failed fetch");
            }
            // Memory is free again: the same regions are fetched and served.
            assertArrayEquals(slice(image.data, 5000, 3 * RS), read(disk, 5000, 3 * RS));
        }
    }

    @Test
    void theHydratorSurvivesAnOutOfMemoryErrorAndFinishes() throws Exception {
        TestImage image = TestImage.random(12, 256 << 10);
        AtomicInteger ooms = new AtomicInteger(2);
        image.onRead = off -> {
            if (ooms.getAndDecrement() > 0) throw new OutOfMemoryError("Java heap space (injected)");
        };
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b").withDurability(NO_SYNC));
                Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(4L * RS)
                        .withBackoff(new Backoff(MS, 10 * MS, 0)))) {
            h.start();
            h.finished().get(30, TimeUnit.SECONDS);
            assertTrue(disk.isHydrated());
            disk.close();
            assertArrayEquals(image.data, f.localBytes());
        }
    }

    @Test
    void fetchBuffersAreBoundedAcrossConcurrentFetches() throws Exception {
        int region = 4 << 20;
        TestImage image = TestImage.random(13, 16 * region);
        image.onRead = off -> LockSupport.parkNanos(50 * MS); // a slow image: every fetch is in flight at once
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(region, "b").withDurability(NO_SYNC));
                ExecutorService pool = Executors.newFixedThreadPool(16)) {
            List<Future<?>> reads = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                long off = (long) i * region + 7;
                reads.add(pool.submit(() -> read(disk, off, 4096)));
            }
            for (Future<?> r : reads) r.get(60, TimeUnit.SECONDS);
            assertEquals(16L * region, image.bytesRead.get());
            assertTrue(image.peakBytesInRead.get() <= MediatedDisk.FETCH_BUFFER_BYTES,
                    "fetch buffers in use at once: " + image.peakBytesInRead.get() + " bytes, bound "
                            + MediatedDisk.FETCH_BUFFER_BYTES);
        }
    }

    @Test
    void afterAFailedForceEveryLaterFlushFailsAndTheMapIsNoLongerCommitted() throws Exception {
        TestImage image = TestImage.random(14, 256 << 10);
        Fixture f = new Fixture(tmp);
        AtomicBoolean failNext = new AtomicBoolean();
        AtomicInteger mapCommits = new AtomicInteger();
        Durability flaky = new Durability() {
            @Override
            public void force(FileChannel channel, Path path, boolean metadata) throws IOException {
                if (path.equals(f.local) && failNext.getAndSet(false)) {
                    throw new IOException("Input/output error (injected writeback failure)");
                }
                if (!path.equals(f.local)) mapCommits.incrementAndGet();
            }

            @Override
            public void syncDirectory(Path dir) {}
        };
        MediatedDisk disk = f.open(image, options(RS, "b").withDurability(flaky));
        try {
            disk.write(0, ByteBuffer.wrap(new byte[RS]), false);
            failNext.set(true);
            assertThrows(IOException.class, disk::flush);
            int commitsAfterFailure = mapCommits.get();
            // Linux reports a writeback error once: the next fdatasync succeeds although the pages are gone.
            disk.write(RS, ByteBuffer.wrap(new byte[RS]), false);
            assertThrows(NbdException.class, disk::flush, "a FLUSH after a failed force must fail too");
            assertThrows(NbdException.class, () -> disk.write(2 * RS, ByteBuffer.wrap(new byte[RS]), true),
                    "a FUA write after a failed force must fail too");
            assertEquals(commitsAfterFailure, mapCommits.get(), "the region map was committed after a failed force");
            assertEquals(Phase.FAILED, disk.status(0).phase());
            String why = disk.status(0).lastError();
            assertNotNull(why);
            assertTrue(why.contains("local disk"), why);
        } finally {
            assertThrows(IOException.class, disk::close, "closing commits, and the commit must fail");
        }
    }

    @Test
    void aPunchedHoleIsSyncedWithMetadataEvenWhenACommitRacesThePunch() throws Exception {
        Path file = tmp.resolve("disk.img");
        List<Boolean> forces = new ArrayList<>();
        Durability recording = new Durability() {
            @Override
            public void force(FileChannel channel, Path path, boolean metadata) {
                synchronized (forces) {
                    forces.add(metadata);
                }
            }

            @Override
            public void syncDirectory(Path dir) {}
        };
        try (LocalDisk disk = LocalDisk.open(file, 1 << 20, recording)) {
            disk.write(0, ByteBuffer.wrap(new byte[256 << 10]));
            // A commit forces the disk just as the punch is about to happen.
            disk.beforePunch = () -> {
                try {
                    disk.force();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };
            disk.zero(0, 128 << 10, false);
            disk.beforePunch = null;
            disk.force(); // the FUA zeroing's own force
            synchronized (forces) {
                assertTrue(forces.getLast(), "the force after a punch did not sync metadata: " + forces);
            }
        }
    }

    @Test
    void writeZeroesWithNoHoleKeepsTheRangeAllocated() throws Exception {
        TestImage image = TestImage.random(15, 8 << 20);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b").withDurability(NO_SYNC))) {
            byte[] ones = new byte[8 << 20];
            java.util.Arrays.fill(ones, (byte) 1);
            disk.write(0, ByteBuffer.wrap(ones), false);
            long before = allocatedBlocks(f.local);
            disk.writeZeroes(0, 8 << 20, true, false, false);
            long after = allocatedBlocks(f.local);
            assertTrue(before >= 8 << 10, "blocks allocated by the write: " + before);
            assertEquals(before, after, "WRITE_ZEROES with NO_HOLE freed blocks");
            assertArrayEquals(new byte[64 << 10], read(disk, 0, 64 << 10));
            // Without NO_HOLE a hole is fine (and what a sparse local disk wants).
            disk.writeZeroes(0, 8 << 20, false, false, false);
            assertTrue(allocatedBlocks(f.local) < before);
        }
    }

    @Test
    void trimOfPartlyCoveredAbsentRegionsNeedsNoImageServer() throws Exception {
        TestImage image = TestImage.random(16, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b").withDurability(NO_SYNC))) {
            read(disk, 4 * RS, 10); // region 4 is local
            image.failure = new IOException("connection refused");
            long reads = image.reads.get();
            // Half of region 0 (absent), regions 1..3 whole, half of region 4 (present).
            disk.trim(RS / 2, 4 * RS, false);
            // Half of region 5 and half of region 6, both absent.
            disk.trim(5 * RS + RS / 2, RS, true);
            assertEquals(reads, image.reads.get(), "TRIM fetched from the image");
            assertEquals(RegionMap.ABSENT, disk.map().state(0));
            for (int r = 1; r <= 3; r++) assertEquals(RegionMap.PRESENT, disk.map().state(r));
            assertEquals(RegionMap.ABSENT, disk.map().state(5));
            assertEquals(RegionMap.ABSENT, disk.map().state(6));
            assertArrayEquals(new byte[3 * RS], read(disk, RS, 3 * RS));
            // The present edge is trimmed as asked (reads as zeros), the rest of it keeps the image's bytes.
            assertArrayEquals(new byte[RS / 2], read(disk, 4 * RS, RS / 2));
            assertArrayEquals(slice(image.data, 4 * RS + RS / 2, RS / 2), read(disk, 4 * RS + RS / 2, RS / 2));
            image.failure = null;
            assertArrayEquals(slice(image.data, 0, RS), read(disk, 0, RS), "the untrimmed edge keeps the image's bytes");
        }
    }

    /** Blocks (512 bytes) allocated to a file, as {@code stat} reports them. */
    static long allocatedBlocks(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("stat", "-c", "%b", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        return Long.parseLong(out);
    }
}

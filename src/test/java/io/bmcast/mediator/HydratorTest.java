package io.bmcast.mediator;

import static io.bmcast.mediator.Fixture.*;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HydratorTest {
    private static final int RS = 16 << 10;
    private static final long MS = 1_000_000L;
    private static final YieldPolicy ALWAYS = (now, inFlight, last) -> true;

    @TempDir
    Path tmp;

    @Test
    void hydrationCompletesAndTheLocalDiskEqualsTheImagePlusGuestWrites() throws Exception {
        TestImage image = TestImage.random(21, 2 << 20, 40, 41, 42, 43, 101, 102, 103, 104, 105);
        byte[] expect = image.data.clone();
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            byte[] w = new byte[3 * RS + 77];
            new Random(1).nextBytes(w);
            disk.write(123_457, ByteBuffer.wrap(w), false);
            System.arraycopy(w, 0, expect, 123_457, w.length);
            try (Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(64 << 10))) {
                h.start();
                h.finished().get(30, TimeUnit.SECONDS);
            }
            assertTrue(disk.hydrated().isDone());
            assertEquals(Phase.HYDRATED, disk.phase());
            MediatorStatus st = disk.status(0);
            assertEquals(st.regionsTotal(), st.regionsPresent());
            assertTrue(st.bytesBackground() > 0);
            assertEquals(1, st.regionsFromHoles(), "blocks 40..43 are region 10; 101..105 fill no whole region");
            assertArrayEquals(expect, f.localBytes(), "local disk = image + guest writes");
            assertEquals(0, image.blocksReadMoreThanOnce());
        }
        // Hydration was committed: after a reboot nothing needs fetching.
        long before = image.bytesRead.get();
        try (MediatedDisk disk = f.open(image, options(RS, "rebooted"))) {
            assertEquals(disk.regions(), disk.regionsPresent());
            assertArrayEquals(expect, read(disk, 0, expect.length));
            assertEquals(before, image.bytesRead.get());
        }
    }

    @Test
    void theHydratorYieldsWhileGuestIoIsInFlight() throws Exception {
        TestImage image = TestImage.random(22, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"));
                ExecutorService pool = Executors.newSingleThreadExecutor()) {
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withYieldPolicy(YieldPolicy.whenIdle(2 * MS)));
            CountDownLatch gate = new CountDownLatch(1);
            image.gate = gate;
            image.entered = new CountDownLatch(1);
            Future<byte[]> guest = pool.submit(() -> read(disk, 5 * RS, 10));
            assertTrue(image.entered.await(10, TimeUnit.SECONDS));
            image.entered = null;
            for (int i = 0; i < 5; i++) {
                h.doWork(System.nanoTime() + i * 1000 * MS);
                assertEquals(Hydrator.Step.YIELDED, h.lastStep(), "guest read in flight");
            }
            image.gate = null;
            gate.countDown();
            assertArrayEquals(slice(image.data, 5 * RS, 10), guest.get(10, TimeUnit.SECONDS));
            assertEquals(1, image.reads.get(), "only the guest's fetch");
            h.doWork(System.nanoTime());
            assertEquals(Hydrator.Step.YIELDED, h.lastStep(), "guest finished less than 2 ms ago");
            h.doWork(System.nanoTime() + 3 * MS);
            assertEquals(Hydrator.Step.COPIED, h.lastStep());
            assertEquals(2, image.reads.get());
        }
    }

    @Test
    void theHydratorHonoursItsRateCap() throws Exception {
        TestImage image = TestImage.random(23, 2 << 20);
        Fixture f = new Fixture(tmp);
        long rate = 1 << 20; // 1 MiB/s
        long batch = 64 << 10;
        AtomicLong clock = new AtomicLong(1_000 * MS);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withRate(rate).withBatchBytes(batch),
                    clock::get);
            long start = clock.get();
            int rateLimited = 0;
            while (h.lastStep() != Hydrator.Step.DONE) {
                long wait = h.doWork(clock.get());
                if (h.lastStep() == Hydrator.Step.RATE_LIMITED) rateLimited++;
                clock.addAndGet(wait);
                long elapsed = clock.get() - start;
                long burst = Math.max(batch, rate / 10);
                assertTrue(image.bytesRead.get() <= rate * elapsed / 1e9 + burst + batch,
                        image.bytesRead.get() + " bytes after " + elapsed + " ns");
            }
            double seconds = (clock.get() - start) / 1e9;
            assertEquals(image.data.length, image.bytesRead.get());
            // 2 MiB at 1 MiB/s, less the initial burst (0.1 s) and the last batch, which nobody waits for.
            assertTrue(seconds >= 1.8 && seconds <= 2.05, "2 MiB at 1 MiB/s took " + seconds + " s");
            assertTrue(rateLimited > 10);
        }
    }

    @Test
    void sourceErrorsBackOffReportStalledAndRecover() throws Exception {
        TestImage image = TestImage.random(24, 256 << 10);
        Fixture f = new Fixture(tmp);
        AtomicLong clock = new AtomicLong(0);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBackoff(new Backoff(100 * MS, 400 * MS, 0)),
                    clock::get);
            image.failure = new IOException("image server unreachable");
            assertEquals(100 * MS, h.doWork(0));
            assertEquals(Hydrator.Step.BACKING_OFF, h.lastStep());
            assertEquals(Phase.STALLED, disk.phase());
            assertTrue(disk.status(0).lastError().contains("image server unreachable"), disk.status(0).lastError());
            long calls = image.blockStatusCalls.get();
            assertEquals(50 * MS, h.doWork(50 * MS), "waits out the backoff without asking the source");
            assertEquals(calls, image.blockStatusCalls.get());
            assertEquals(200 * MS, h.doWork(100 * MS), "second failure: doubled");
            assertEquals(400 * MS, h.doWork(300 * MS));
            assertEquals(400 * MS, h.doWork(700 * MS), "capped");
            image.failure = null;
            h.doWork(1100 * MS);
            assertEquals(Hydrator.Step.COPIED, h.lastStep());
            assertEquals(Phase.STREAMING, disk.phase());
            while (h.lastStep() != Hydrator.Step.DONE) h.doWork(clock.addAndGet(MS));
            assertEquals(Phase.HYDRATED, disk.phase());
            assertTrue(h.finished().isDone());
        }
    }

    @Test
    void theHydratorGivesUpLoudlyAtItsFailureLimit() throws Exception {
        TestImage image = TestImage.random(25, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBackoff(new Backoff(MS, MS, 3)), () -> 0);
            image.failure = new IOException("gone for good");
            long now = 0;
            for (int i = 0; i < 10 && h.lastStep() != Hydrator.Step.FAILED; i++) now += h.doWork(now) + 1;
            assertEquals(Hydrator.Step.FAILED, h.lastStep());
            assertEquals(Phase.FAILED, disk.phase());
            assertTrue(disk.status(0).lastError().contains("gave up after 3 failures"));
            ExecutionException e = assertThrows(ExecutionException.class, () -> h.finished().get());
            assertTrue(e.getCause().getMessage().contains("gone for good"));
            // The guest still gets its data on demand once the server is back.
            image.failure = null;
            assertArrayEquals(slice(image.data, 0, 10), read(disk, 0, 10));
        }
    }

    @Test
    void aRecordedBootProfileIsPrefetchedFirstByTheNextDeployment() throws Exception {
        TestImage image = TestImage.random(26, 256 << 10);
        Fixture first = new Fixture(tmp.resolve("first"));
        java.nio.file.Files.createDirectories(first.dir);
        try (MediatedDisk disk = first.open(image, options(RS, "b"))) {
            for (int r : new int[] {9, 3, 7}) read(disk, (long) r * RS + 10, 20);
        }
        Fixture second = new Fixture(tmp.resolve("second"));
        java.nio.file.Files.createDirectories(second.dir);
        List<Long> order = new ArrayList<>();
        image.onRead = order::add;
        MediatorOptions opts = options(RS, "b").withBootProfile(first.state.resolve("boot-profile"));
        try (MediatedDisk disk = second.open(image, opts)) {
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(RS), () -> 0);
            while (h.lastStep() != Hydrator.Step.DONE) h.doWork(0);
        }
        List<Long> expected = new ArrayList<>();
        for (int r : new int[] {9, 3, 7, 0, 1, 2, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15}) expected.add((long) r * RS);
        assertEquals(expected, order);
    }

    /**
     * The copy's batches reach the image marked background ({@link io.bmcast.storage.FetchPriority}), so the store's
     * slots and the peers let a guest's reads pass them; the boot profile's batches, which a booting guest is about to
     * read, and the guest's own reads stay urgent.
     */
    @Test
    void backgroundBatchesAreMarkedBackgroundAndTheBootProfileAndGuestReadsAreNot() throws Exception {
        TestImage image = TestImage.random(28, 256 << 10);
        Fixture first = new Fixture(tmp.resolve("first"));
        java.nio.file.Files.createDirectories(first.dir);
        try (MediatedDisk disk = first.open(image, options(RS, "b"))) {
            for (int r : new int[] {9, 3}) read(disk, (long) r * RS + 10, 20);
        }
        Fixture second = new Fixture(tmp.resolve("second"));
        java.nio.file.Files.createDirectories(second.dir);
        java.util.Map<Long, Boolean> background = new java.util.concurrent.ConcurrentHashMap<>();
        image.onRead = off -> background.put(off, io.bmcast.storage.FetchPriority.isBackground());
        MediatorOptions opts = options(RS, "b").withBootProfile(first.state.resolve("boot-profile"));
        try (MediatedDisk disk = second.open(image, opts)) {
            read(disk, 12L * RS, 20); // the guest's own read, before any batch
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(RS).withYieldPolicy(ALWAYS), () -> 0);
            for (int i = 0; i < 1000 && h.lastStep() != Hydrator.Step.DONE; i++) h.doWork(0);
            assertEquals(Hydrator.Step.DONE, h.lastStep());
        }
        assertEquals(16, background.size(), background.toString());
        for (int r = 0; r < 16; r++) {
            boolean urgent = r == 9 || r == 3 || r == 12;
            assertEquals(!urgent, background.get((long) r * RS), "region " + r + ": " + background);
        }
        assertFalse(io.bmcast.storage.FetchPriority.isBackground(), "the mark is the batch's, not left on the thread");
    }

    /**
     * A run of holes moves no bytes, so one batch takes it whole: a large image that is mostly holes (the sample guest
     * is 32 GiB with 51 MiB of data) is copied in a few batches, not one per batch size of holes; a hundred mediators in
     * one process spent most of their CPU on those empty batches.
     */
    @Test
    void aRunOfHolesIsCopiedInOneBatch() throws Exception {
        int regions = 256;
        int[] zero = new int[regions * (RS / TestImage.BLOCK) - RS / TestImage.BLOCK];
        for (int i = 0; i < zero.length; i++) zero[i] = RS / TestImage.BLOCK + i;
        TestImage image = TestImage.random(29, regions * RS, zero); // data in region 0 only
        Fixture f = new Fixture(tmp);
        MediatorOptions opts = options(RS, "b").withSourceExtents(new ImageExtents(image.size(), new long[][] {{0, RS}}));
        try (MediatedDisk disk = f.open(image, opts)) {
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(RS).withYieldPolicy(ALWAYS), () -> 0);
            int batches = 0;
            for (int i = 0; i < 1000 && h.lastStep() != Hydrator.Step.DONE; i++) {
                h.doWork(0);
                if (h.lastStep() == Hydrator.Step.COPIED) batches++;
            }
            assertEquals(Hydrator.Step.DONE, h.lastStep());
            assertEquals(2, batches, "one batch of data, one of the " + (regions - 1) + " regions of holes");
            assertEquals(regions - 1, disk.status(0).regionsFromHoles());
            assertArrayEquals(image.data, f.localBytes());
        }
    }

    /** A fetch in flight for region 3 is held; a guest write to it waits, lands after it, and wins. */
    @Test
    void aGuestWriteRacingTheFetchOfItsRegionIsNeverOverwritten() throws Exception {
        for (boolean whole : new boolean[] {true, false}) {
            TestImage image = TestImage.random(27, 256 << 10);
            Fixture f = new Fixture(tmp.resolve("whole-" + whole));
            java.nio.file.Files.createDirectories(f.dir);
            try (MediatedDisk disk = f.open(image, options(RS, "b"));
                    ExecutorService pool = Executors.newFixedThreadPool(2)) {
                CountDownLatch gate = new CountDownLatch(1);
                image.gate = gate;
                image.entered = new CountDownLatch(1);
                Future<Long> fetch = pool.submit(() -> disk.hydrateRun(3, 1));
                assertTrue(image.entered.await(10, TimeUnit.SECONDS));
                byte[] w = new byte[whole ? RS : 100];
                Arrays.fill(w, (byte) 0x5A);
                long off = 3L * RS + (whole ? 0 : 500);
                Future<?> write = pool.submit(() -> {
                    disk.write(off, ByteBuffer.wrap(w), false);
                    return null;
                });
                while (disk.guestInFlight() < 1) Thread.onSpinWait();
                LockSupport.parkNanos(20 * MS); // let the write reach the region; it must wait there
                assertFalse(write.isDone(), "the write waits for the fetch of its region");
                gate.countDown();
                fetch.get(10, TimeUnit.SECONDS);
                write.get(10, TimeUnit.SECONDS);
                byte[] expect = slice(image.data, 3L * RS, RS);
                System.arraycopy(w, 0, expect, (int) (off - 3L * RS), w.length);
                assertArrayEquals(expect, read(disk, 3L * RS, RS));
            }
        }
    }

    /** Background hydration and guest writes run flat out together; the guest's bytes always win. */
    @Test
    void randomizedGuestWritesRacingHydrationAreNeverClobbered() throws Exception {
        for (int iter = 0; iter < 80; iter++) {
            Random rnd = new Random(1000 + iter);
            TestImage image = TestImage.random(iter, 256 << 10, 20, 21, 22, 23);
            image.onRead = off -> {
                if ((off / RS + Thread.currentThread().threadId()) % 3 == 0) LockSupport.parkNanos(20_000);
            };
            Fixture f = new Fixture(tmp.resolve("i" + iter));
            java.nio.file.Files.createDirectories(f.dir);
            byte[] expect = image.data.clone();
            try (MediatedDisk disk = f.open(image, options(RS, "b").withDurability(NO_SYNC))) {
                Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withYieldPolicy(ALWAYS)
                        .withBatchBytes((1 + rnd.nextInt(4)) * RS));
                h.start();
                for (int i = 0; i < 25; i++) {
                    int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 3 * RS : 2000);
                    long off = rnd.nextInt(expect.length - len);
                    byte[] w = new byte[len];
                    rnd.nextBytes(w);
                    switch (rnd.nextInt(6)) {
                        case 0 -> {
                            disk.writeZeroes(off, len, false, false, false);
                            Arrays.fill(expect, (int) off, (int) off + len, (byte) 0);
                        }
                        case 1 -> assertArrayEquals(slice(expect, off, len), read(disk, off, len));
                        default -> {
                            disk.write(off, ByteBuffer.wrap(w), rnd.nextInt(8) == 0);
                            System.arraycopy(w, 0, expect, (int) off, len);
                        }
                    }
                }
                h.finished().get(30, TimeUnit.SECONDS);
                h.close();
                assertArrayEquals(expect, f.localBytes(), "iteration " + iter);
            }
        }
    }

    @Test
    void twoWorkersKeepTwoBatchesOnTheWireAndFetchNothingTwice() throws Exception {
        TestImage image = TestImage.random(77, 2 << 20);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            CountDownLatch entered = new CountDownLatch(2);
            CountDownLatch gate = new CountDownLatch(1);
            image.entered = entered;
            image.gate = gate;
            try (Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(64 << 10).withWorkers(2))) {
                h.start();
                assertTrue(entered.await(10, TimeUnit.SECONDS), "a second batch is fetched while the first is in flight");
                image.entered = null;
                image.gate = null;
                gate.countDown();
                h.finished().get(30, TimeUnit.SECONDS);
            }
            assertArrayEquals(image.data, f.localBytes());
            assertEquals(0, image.blocksReadMoreThanOnce());
        }
    }

    @Test
    void oneWorkerIsStopAndWait() throws Exception {
        TestImage image = TestImage.random(78, 1 << 20);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            CountDownLatch entered = new CountDownLatch(2);
            CountDownLatch gate = new CountDownLatch(1);
            image.entered = entered;
            image.gate = gate;
            try (Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(64 << 10).withWorkers(1))) {
                h.start();
                assertFalse(entered.await(300, TimeUnit.MILLISECONDS), "one batch at a time");
                assertEquals(1, entered.getCount());
                image.entered = null;
                image.gate = null;
                gate.countDown();
                h.finished().get(30, TimeUnit.SECONDS);
            }
            assertArrayEquals(image.data, f.localBytes());
        }
    }
}

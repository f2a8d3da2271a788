package io.bmcast.mediator;

import static io.bmcast.mediator.Fixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MediatedDiskTest {
    private static final int RS = 16 << 10;

    @TempDir
    Path tmp;

    @Test
    void concurrentReadersGetTheImageBytesAndEachRegionIsFetchedOnce() throws Exception {
        TestImage image = TestImage.random(1, 1 << 20);
        image.onRead = off -> LockSupport.parkNanos(200_000); // a slow link widens every race
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b").withDurability(NO_SYNC));
                ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                long seed = t;
                futures.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    for (int i = 0; i < 150; i++) {
                        int len = 1 + rnd.nextInt(48 << 10);
                        long off = rnd.nextInt(image.data.length - len);
                        assertArrayEquals(slice(image.data, off, len), read(disk, off, len), "read at " + off);
                    }
                    return null;
                }));
            }
            for (Future<?> fu : futures) fu.get(60, TimeUnit.SECONDS);
            assertEquals(0, image.blocksReadMoreThanOnce(), "a region was fetched twice");
            assertTrue(disk.status(0).bytesOnDemand() > 0);
        }
    }

    @Test
    void adjacentAbsentRegionsOfOneRequestAreFetchedInOneSourceRead() throws Exception {
        TestImage image = TestImage.random(2, 512 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            read(disk, RS + 100, 4 * RS); // touches regions 1..5
            assertEquals(1, image.reads.get());
            assertEquals(5L * RS, image.bytesRead.get());
            read(disk, 0, 7 * RS); // regions 0 and 6 missing, 1..5 present
            assertEquals(3, image.reads.get());
            assertEquals(7L * RS, image.bytesRead.get());
        }
    }

    @Test
    void holesInTheImageAreNeverTransferred() throws Exception {
        // Blocks 8..15 are regions 2 and 3 exactly; block 20 is a hole inside region 5, which has data too.
        TestImage image = TestImage.random(3, 512 << 10, 8, 9, 10, 11, 12, 13, 14, 15, 20);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            assertArrayEquals(image.data, read(disk, 0, image.data.length));
            for (int b = 8; b <= 15; b++) assertEquals(0, image.blockReads.get(b), "hole block " + b + " was read");
            assertEquals(1, image.blockReads.get(20), "a partly-hole region is data");
            assertEquals(2, disk.status(0).regionsFromHoles());
            assertEquals(image.data.length - 2L * RS, image.bytesRead.get());
            disk.close();
            assertArrayEquals(image.data, f.localBytes());
        }
    }

    @Test
    void aFailingSourceGivesEioNeverWrongDataAndReadsRecoverWhenItReturns() throws Exception {
        TestImage image = TestImage.random(4, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            image.failure = new IOException("connection refused");
            NbdException e = assertThrows(NbdException.class, () -> read(disk, 5000, 3 * RS));
            assertEquals(Nbd.EIO, e.error());
            assertEquals(0, disk.regionsPresent(), "a failed fetch leaves its regions ABSENT");
            // A partial write to an absent region needs its old bytes: it fails too, and writes nothing.
            assertThrows(NbdException.class, () -> disk.write(100, ByteBuffer.wrap(new byte[10]), false));
            assertEquals(1, disk.status(0).sourceErrors() >= 1 ? 1 : 0);
            image.failure = null;
            assertArrayEquals(slice(image.data, 5000, 3 * RS), read(disk, 5000, 3 * RS));
            assertArrayEquals(slice(image.data, 0, 200), read(disk, 0, 200));
        }
    }

    @Test
    void requestsWaitingForAFetchThatFailsGetEioToo() throws Exception {
        TestImage image = TestImage.random(5, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"));
                ExecutorService pool = Executors.newFixedThreadPool(2)) {
            CountDownLatch gate = new CountDownLatch(1);
            image.gate = gate;
            image.entered = new CountDownLatch(1);
            Future<?> first = pool.submit(() -> read(disk, 0, 100));
            assertTrue(image.entered.await(10, TimeUnit.SECONDS));
            Future<?> second = pool.submit(() -> read(disk, 50, 100)); // same region: waits for the one fetch
            while (disk.guestInFlight() < 2) Thread.onSpinWait();
            image.failure = new IOException("server went away");
            gate.countDown();
            for (Future<?> fu : List.of(first, second)) {
                Exception e = assertThrows(Exception.class, () -> fu.get(10, TimeUnit.SECONDS));
                assertInstanceOf(NbdException.class, e.getCause());
                assertEquals(Nbd.EIO, ((NbdException) e.getCause()).error());
            }
            assertEquals(0, disk.regionsPresent());
        }
    }

    @Test
    void writesNeedFetchesOnlyForPartlyCoveredRegions() throws Exception {
        TestImage image = TestImage.random(6, 256 << 10);
        byte[] expect = image.data.clone();
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            // Whole regions 2..3: no fetch at all.
            byte[] w = new byte[2 * RS];
            Arrays.fill(w, (byte) 7);
            disk.write(2L * RS, ByteBuffer.wrap(w), false);
            System.arraycopy(w, 0, expect, 2 * RS, w.length);
            assertEquals(0, image.reads.get());
            // Partly region 5, wholly 6, partly 7: regions 5 and 7 are fetched first.
            byte[] w2 = new byte[2 * RS];
            Arrays.fill(w2, (byte) 9);
            disk.write(5L * RS + 1000, ByteBuffer.wrap(w2), true);
            System.arraycopy(w2, 0, expect, 5 * RS + 1000, w2.length);
            assertEquals(2L * RS, image.bytesRead.get());
            // Zeroing whole region 9 (no fetch); trimming part of absent region 10 is a hint that fetches
            // nothing and leaves the image's bytes; part of present region 5 is zeroed.
            disk.writeZeroes(9L * RS, RS, false, false, false);
            Arrays.fill(expect, 9 * RS, 10 * RS, (byte) 0);
            disk.trim(10L * RS + 4096, 4096, false);
            disk.trim(5L * RS + 4096, 4096, false);
            Arrays.fill(expect, 5 * RS + 4096, 5 * RS + 8192, (byte) 0);
            assertEquals(2L * RS, image.bytesRead.get(), "a partial trim of an absent region fetched it");
            assertArrayEquals(expect, read(disk, 0, expect.length));
            disk.close();
            assertArrayEquals(expect, f.localBytes());
        }
    }

    @Test
    void restartResumesWithoutFetchingPresentRegionsAgain() throws Exception {
        TestImage image = TestImage.random(7, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            read(disk, 0, 100 << 10);
        }
        long reads = image.bytesRead.get();
        for (String boot : List.of("b", "after-reboot")) {
            try (MediatedDisk disk = f.open(image, options(RS, boot))) {
                assertEquals((100 << 10) / RS + 1, disk.regionsPresent(), "boot " + boot);
                assertArrayEquals(slice(image.data, 0, 100 << 10), read(disk, 0, 100 << 10));
                assertEquals(reads, image.bytesRead.get(), "nothing fetched again");
            }
        }
    }

    @Test
    void aStateDirOfAnotherImageOrDiskIsRefused() throws Exception {
        TestImage image = TestImage.random(8, 256 << 10);
        Fixture f = new Fixture(tmp);
        f.open(image, options(RS, "b")).close();

        MediatorOptions other = new MediatorOptions("vm1", "test://other-image", RS, RS * 8L, 1, 1,
                BootIdSource.fixed("b"), Durability.SYSTEM, null);
        IOException e = assertThrows(IOException.class, () -> f.open(image, other));
        assertTrue(e.getMessage().contains("belongs to image 'test://image'"), e.getMessage());

        e = assertThrows(IOException.class, () -> f.open(image, options(2 * RS, "b")));
        assertTrue(e.getMessage().contains("regions"), e.getMessage());

        TestImage bigger = TestImage.random(8, 512 << 10);
        e = assertThrows(IOException.class, () -> f.open(bigger, options(RS, "b")));
        assertTrue(e.getMessage().contains("belongs to image"), e.getMessage());

        // Same image, but the local disk was replaced: its contents are not what the map says.
        Files.move(f.local, tmp.resolve("old-disk.img")); // kept, so the new file cannot reuse its inode
        Files.write(f.local, new byte[256 << 10]);
        e = assertThrows(IOException.class, () -> f.open(image, options(RS, "b")));
        assertTrue(e.getMessage().contains("local disk"), e.getMessage());
    }

    @Test
    void aLocalDiskSmallerThanTheImageIsRefused() throws Exception {
        TestImage image = TestImage.random(9, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (RandomAccessFile raf = new RandomAccessFile(f.local.toFile(), "rw")) {
            raf.setLength(100 << 10);
        }
        IOException e = assertThrows(IOException.class, () -> f.open(image, options(RS, "b")));
        assertTrue(e.getMessage().contains("is 102400 bytes") && e.getMessage().contains("image's 262144 bytes"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertEquals(100 << 10, Files.size(f.local), "the disk was left as it was");
    }

    /**
     * A machine's disk larger than the image: the guest sees all of it; past the image the local bytes are the
     * truth from the start (never fetched, never hydrated), and survive a restart.
     */
    @Test
    void aLargerLocalDiskIsServedWholeAndOnlyTheImagePartStreams() throws Exception {
        int imageSize = 5 * RS + 1234; // the last region is short: the tail starts inside it
        TestImage image = TestImage.random(12, imageSize);
        Fixture f = new Fixture(tmp);
        long diskSize = 16L * RS;
        byte[] tenant = new byte[RS];
        new Random(13).nextBytes(tenant);
        try (RandomAccessFile raf = new RandomAccessFile(f.local.toFile(), "rw")) {
            raf.setLength(diskSize);
            raf.seek(10L * RS);
            raf.write(tenant); // what the disk holds past the image is served as it is
        }
        byte[] written = new byte[3 * RS];
        new Random(14).nextBytes(written);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            assertEquals(diskSize, disk.size());
            assertEquals(imageSize, disk.imageSize());
            assertEquals(6, disk.regions(), "regions cover the image only");
            assertArrayEquals(tenant, read(disk, 10L * RS, RS));
            assertArrayEquals(new byte[RS], read(disk, 12L * RS, RS));
            assertEquals(0, image.reads.get(), "nothing past the image is fetched");

            // Across the boundary: the image's bytes, then the disk's.
            byte[] across = read(disk, imageSize - 100, 300);
            assertArrayEquals(slice(image.data, imageSize - 100, 100), slice(across, 0, 100));
            assertArrayEquals(new byte[200], slice(across, 100, 200));
            assertEquals(1, image.reads.get(), "only the image's last region was fetched");

            // A write across the boundary, and one wholly past the image.
            disk.write(imageSize - RS, ByteBuffer.wrap(written, 0, 2 * RS), false);
            disk.write(14L * RS, ByteBuffer.wrap(written, 2 * RS, RS), true);
            assertArrayEquals(slice(written, 0, 2 * RS), read(disk, imageSize - RS, 2 * RS));

            // Hydration moves the image's bytes and nothing else.
            for (int r = 0; r < disk.regions(); r++) disk.hydrateRun(r, 1);
            assertTrue(disk.completeIfHydrated());
            assertEquals(imageSize, image.bytesRead.get() + 0L, "bytes moved: the image's, once");
            List<long[]> extents = new ArrayList<>();
            disk.blockStatus(0, diskSize, (len, flags) -> extents.add(new long[] {len, flags}));
            assertEquals(diskSize, extents.stream().mapToLong(e -> e[0]).sum(), "block status covers the whole disk");
        }
        // Reopened (same boot: the live map is trusted; the data was forced by close anyway).
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            assertArrayEquals(slice(written, 0, 2 * RS), read(disk, imageSize - RS, 2 * RS));
            assertArrayEquals(slice(written, 2 * RS, RS), read(disk, 14L * RS, RS));
            assertArrayEquals(tenant, read(disk, 10L * RS, RS));
            assertArrayEquals(slice(image.data, 0, imageSize - RS), read(disk, 0, imageSize - RS));
        }
        // The same state over a disk that has changed size: its map no longer describes it.
        try (RandomAccessFile raf = new RandomAccessFile(f.local.toFile(), "rw")) {
            raf.setLength(diskSize + RS);
        }
        IOException e = assertThrows(IOException.class, () -> f.open(image, options(RS, "b")));
        assertTrue(e.getMessage().contains(diskSize + " bytes") && e.getMessage().contains((diskSize + RS) + " bytes"),
                e.getMessage());
    }

    @Test
    void anImageWhoseSizeIsNotAMultipleOfTheRegionSizeWorks() throws Exception {
        TestImage image = TestImage.random(10, 5 * RS + 1234);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            assertEquals(6, disk.regions());
            assertArrayEquals(slice(image.data, 5L * RS, 1234), read(disk, 5L * RS, 1234));
            disk.write(5L * RS, ByteBuffer.wrap(new byte[1234]), false); // covers the short last region wholly
            assertArrayEquals(new byte[1234], read(disk, 5L * RS, 1234));
        }
    }

    @Test
    void statusIsWrittenAsJsonInTheStateDir() throws Exception {
        TestImage image = TestImage.random(11, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            read(disk, 0, RS);
            disk.writeStatusFile(0);
            String json = Files.readString(f.state.resolve("status.json"), StandardCharsets.UTF_8);
            assertTrue(json.startsWith("{\"name\":\"vm1\""), json);
            assertTrue(json.contains("\"regionsTotal\":16,\"regionsPresent\":1,"), json);
            assertTrue(json.contains("\"bytesOnDemand\":16384,\"bytesBackground\":0,"), json);
            assertTrue(json.contains("\"phase\":\"streaming\""), json);
            assertTrue(json.contains("\"lastError\":null,\"backgroundCopy\":false}"), json); // no hydrator: remote-only
        }
        String nasty = "a\"b\\c\n\u0001";
        MediatorStatus withError = new MediatorStatus("vm1", 1, 1, RS, 1, 0, 0, 0, 0, Phase.STALLED, 0, 1, nasty);
        assertEquals(nasty, io.bmcast.util.Jackson.MAPPER.readTree(withError.toJson()).get("lastError").asText());
    }

    @Test
    void blockStatusReportsAbsentHolesAsHolesAndTheRestAsData() throws Exception {
        TestImage image = TestImage.random(12, 256 << 10, 4, 5, 6, 7);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            List<long[]> extents = new ArrayList<>();
            disk.blockStatus(0, image.size(), (len, flags) -> extents.add(new long[] {len, flags}));
            assertEquals(3, extents.size());
            assertArrayEquals(new long[] {RS, 0}, extents.get(0));
            assertArrayEquals(new long[] {RS, Nbd.STATE_HOLE | Nbd.STATE_ZERO}, extents.get(1));
            assertArrayEquals(new long[] {14L * RS, 0}, extents.get(2));
        }
    }

    @Test
    void aSecondMediatorOnTheSameStateDirIsRefused() throws Exception {
        TestImage image = TestImage.random(13, 256 << 10);
        Fixture f = new Fixture(tmp);
        try (MediatedDisk disk = f.open(image, options(RS, "b"))) {
            IOException e = assertThrows(IOException.class, () -> f.open(image, options(RS, "b")));
            assertTrue(e.getMessage().contains("in use by another mediator"), e.getMessage());
        }
        f.open(image, options(RS, "b")).close(); // free again once closed
    }

    @Test
    void theHousekeeperCommitsWritesStatusAndCompletesHydrationByGuestIo() throws Exception {
        TestImage image = TestImage.random(14, 128 << 10);
        Fixture f = new Fixture(tmp);
        MediatorOptions opts = options(RS, "b").withIntervals(5_000_000L, 5_000_000L);
        try (MediatedDisk disk = f.open(image, opts)) {
            disk.startHousekeeping();
            read(disk, 0, image.data.length); // the guest reads everything: no hydrator needed
            disk.hydrated().get(10, TimeUnit.SECONDS);
            assertEquals(Phase.HYDRATED, disk.phase());
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!Files.readString(f.state.resolve("status.json")).contains("hydrated")) {
                assertTrue(System.nanoTime() < deadline, "status.json never said hydrated");
                LockSupport.parkNanos(5_000_000L);
            }
        }
    }
}

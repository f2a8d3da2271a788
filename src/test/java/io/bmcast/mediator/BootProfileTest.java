package io.bmcast.mediator;

import static io.bmcast.mediator.Fixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.storage.BootProfileFormat;
import io.bmcast.storage.BootProfileFormat.Read;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The boot profile in both formats: BMCPROF2 (timed) as a mediator now records it, and BMCPROF1 (untimed) as earlier
 * mediators did, which every reader still takes and which still orders the next deployment's hydration.
 */
class BootProfileTest {
    private static final int RS = 16 << 10;
    private static final long MS = 1_000_000L;

    @TempDir
    Path tmp;

    @Test
    void bothFormatsRoundTripAndOnlyTheTimedOneKeepsTimes() {
        List<Read> reads = List.of(new Read(0, 4096, 0), new Read(1L << 40, 65536, 1500), new Read(8192, 512, 4_000_000_000L));
        byte[] v2 = BootProfileFormat.encode(reads, true);
        assertEquals(8 + 3 * 16, v2.length);
        assertEquals("BMCPROF2", new String(v2, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(reads, BootProfileFormat.decode(v2));
        assertTrue(BootProfileFormat.isWhole(v2));

        byte[] v1 = BootProfileFormat.encode(reads, false);
        assertEquals(8 + 3 * 12, v1.length);
        assertEquals("BMCPROF1", new String(v1, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(reads.stream().map(r -> new Read(r.offset(), r.length(), -1)).toList(), BootProfileFormat.decode(v1));
        assertTrue(BootProfileFormat.isWhole(v1));

        // A torn tail is ignored by readers and refused by the controller's check; a time past 32 bits is kept at the top.
        assertEquals(2, BootProfileFormat.decode(Arrays.copyOf(v2, v2.length - 3)).size());
        assertFalse(BootProfileFormat.isWhole(Arrays.copyOf(v2, v2.length - 3)));
        assertEquals(0xFFFF_FFFFL, BootProfileFormat.decode(BootProfileFormat.encode(List.of(new Read(0, 1, 1L << 40)), true))
                .getFirst().atMs());
        assertEquals(8 + 16, BootProfileFormat.wholePrefix(v2, 8 + 16 + 15), "whole records only, within the cap");
        assertThrows(IllegalArgumentException.class, () -> BootProfileFormat.decode("BMCPROF9 and more".getBytes()));
    }

    @Test
    void aRecorderWritesTimedRecordsRelativeToTheFirstReadAndContinuesAcrossARestart() throws Exception {
        Path file = tmp.resolve("boot-profile");
        long origin = 123_456_789_000L; // times are passed in: any origin
        try (BootProfile p = BootProfile.recorder(file)) {
            p.record(4096, 4096, origin);
            p.record(1 << 20, 65536, origin + 1500 * MS + 999_999); // truncated to the millisecond
        }
        try (BootProfile p = BootProfile.recorder(file)) {
            // A restarted mediator's clock has another origin: the profile goes on from its last time.
            p.record(8192, 4096, 7 * MS);
            p.record(12288, 4096, 10 * MS);
        }
        assertEquals(List.of(new Read(4096, 4096, 0), new Read(1 << 20, 65536, 1500), new Read(8192, 4096, 1500),
                new Read(12288, 4096, 1503)), BootProfileFormat.decode(Files.readAllBytes(file)));
    }

    @Test
    void aRecorderContinuesAnOldUntimedProfileInItsOwnFormat() throws Exception {
        Path file = tmp.resolve("boot-profile");
        Files.write(file, BootProfileFormat.encode(List.of(new Read(0, 4096, -1)), false));
        try (BootProfile p = BootProfile.recorder(file)) {
            p.record(65536, 4096, 5 * MS);
        }
        byte[] all = Files.readAllBytes(file);
        assertEquals(8 + 2 * 12, all.length);
        assertEquals(List.of(new Read(0, 4096, -1), new Read(65536, 4096, -1)), BootProfileFormat.decode(all));
    }

    /** A BMCPROF1 profile (an earlier mediator's, as the controller may still hold) orders the next deployment's copy. */
    @Test
    void anOldUntimedProfileStillDrivesTheHydrationOrder() throws Exception {
        TestImage image = TestImage.random(26, 256 << 10);
        Path old = tmp.resolve("old.profile");
        Files.write(old, BootProfileFormat.encode(List.of(new Read(9L * RS + 10, 20, -1), new Read(3L * RS, RS + 1, -1),
                new Read(7L * RS, 1, -1)), false));
        assertArrayEquals(new int[] {9, 3, 4, 7}, BootProfile.load(old, Integer.numberOfTrailingZeros(RS), 16));
        Fixture f = new Fixture(tmp.resolve("node"));
        Files.createDirectories(f.dir);
        List<Long> order = new ArrayList<>();
        image.onRead = order::add;
        try (MediatedDisk disk = f.open(image, options(RS, "b").withBootProfile(old))) {
            Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(RS), () -> 0);
            while (h.lastStep() != Hydrator.Step.DONE) h.doWork(0);
        }
        List<Long> expected = new ArrayList<>();
        for (int r : new int[] {9, 3, 4, 7, 0, 1, 2, 5, 6, 8, 10, 11, 12, 13, 14, 15}) expected.add((long) r * RS);
        assertEquals(expected, order);
        // The node's own profile is a new, timed one; it records no read here (nothing was read on demand).
        assertEquals(BootProfileFormat.MAGIC_V2, java.nio.ByteBuffer.wrap(Files.readAllBytes(f.state.resolve("boot-profile"))).getLong(0));
    }
}

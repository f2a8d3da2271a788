package io.bmcast.mediator;

import static io.bmcast.mediator.Fixture.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.testing.Tools;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A local disk that fills up (issue 8, item 3): the local disk is a file on a small tmpfs mounted by the test.
 * The copy pauses with the reason, a guest write that cannot be stored gets ENOSPC, reads still work, no region
 * is PRESENT without its bytes, and once the file system is made larger the deployment completes with the disk
 * equal to the image plus the guest's writes.
 */
@Timeout(120)
class LocalDiskFullTest {
    private static final int RS = 64 << 10;
    private static final int IMAGE = 16 << 20;

    @TempDir
    Path tmp;
    Path mnt;

    @BeforeEach
    void mount() throws Exception {
        Tools.assume("mount", "umount");
        mnt = Files.createDirectories(tmp.resolve("mnt"));
        Tools.Result r = Tools.run(Duration.ofSeconds(20), "mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt.toString());
        assumeTrue(r.exitCode() == 0, "cannot mount a tmpfs here (needs root): " + r.stderr().strip());
    }

    @AfterEach
    void unmount() {
        if (mnt != null) Tools.run(Duration.ofSeconds(20), "umount", "-l", mnt.toString());
    }

    @Test
    void theCopyPausesWritesGetEnospcAndTheDeploymentCompletesOnceSpaceIsFreed() throws Exception {
        TestImage image = TestImage.random(21, IMAGE);
        Path disk = mnt.resolve("disk.img");
        Path state = tmp.resolve("state"); // the maps live elsewhere: only the disk's file system fills
        byte[] expect = image.data.clone();
        try (MediatedDisk md = MediatedDisk.open(image, disk, state, options(RS, "b").withDurability(NO_SYNC))) {
            String low = md.lowSpace();
            assertNotNull(low, "6 MiB free for 16 MiB of data");
            assertTrue(low.contains(disk.toString()) && low.contains("16.0 MiB") && low.contains("free"), low);

            try (Hydrator h = new Hydrator(md, Hydrator.Options.defaults().withBatchBytes(4L * RS)
                    .withBackoff(new Backoff(1_000_000L, 10_000_000L, 3)))) {
                h.start();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (md.phase() != Phase.STALLED) {
                    assertTrue(System.nanoTime() < deadline, "the copy never stalled: " + md.status(0));
                    Thread.sleep(20);
                }
                MediatorStatus s = md.status(0);
                assertTrue(s.lastError().contains("local disk full") && s.lastError().contains(disk.toString()),
                        "the reason names the local disk: " + s.lastError());
                assertEquals(0, s.sourceErrors(), "a full local disk is not an image server failure");
                assertTrue(s.regionsPresent() < md.regions(), s.toString());
                Thread.sleep(3000); // several retries: it must not give up (the backoff's limit is 3 failures)
                assertEquals(Phase.STALLED, md.phase(), "the copy gave up on a full disk: " + md.status(0));

                // A guest write into regions not yet local: no room, ENOSPC (and nothing of it is PRESENT).
                int absent = firstAbsentRun(md, 8);
                byte[] w = new byte[8 * RS];
                Arrays.fill(w, (byte) 0x5a);
                NbdException e = assertThrows(NbdException.class,
                        () -> md.write((long) absent * RS, ByteBuffer.wrap(w), false));
                assertEquals(Nbd.ENOSPC, e.error(), e.getMessage());
                for (int r = absent; r < absent + 8; r++) assertNotEquals(RegionMap.PRESENT, md.map().state(r), "region " + r);
                // Reads still work: what is not local comes straight from the image.
                assertArrayEquals(slice(image.data, (long) absent * RS, 8 * RS), read(md, (long) absent * RS, 8 * RS));
                // Every PRESENT region holds the image's bytes.
                byte[] local = Files.readAllBytes(disk);
                for (int r = 0; r < md.regions(); r++) {
                    if (md.map().state(r) == RegionMap.PRESENT) {
                        assertArrayEquals(slice(image.data, (long) r * RS, RS), slice(local, (long) r * RS, RS),
                                "region " + r + " is PRESENT without its data");
                    }
                }

                // Space is freed: the copy goes on by itself, and the guest's write is taken.
                Tools.run(Duration.ofSeconds(20), "mount", "-o", "remount,size=64m", mnt.toString()).requireSuccess("remount");
                md.write((long) absent * RS, ByteBuffer.wrap(w), false);
                System.arraycopy(w, 0, expect, absent * RS, w.length);
                h.finished().get(60, TimeUnit.SECONDS);
                assertTrue(md.isHydrated());
            }
            assertArrayEquals(expect, read(md, 0, IMAGE));
        }
        assertArrayEquals(expect, Files.readAllBytes(disk), "the local disk is the image plus the guest's write");
    }

    private static int firstAbsentRun(MediatedDisk md, int n) {
        for (int r = 0; r + n <= md.regions(); r++) {
            boolean all = true;
            for (int i = r; i < r + n && all; i++) all = md.map().state(i) == RegionMap.ABSENT;
            if (all) return r;
        }
        throw new AssertionError("no run of " + n + " absent regions");
    }
}

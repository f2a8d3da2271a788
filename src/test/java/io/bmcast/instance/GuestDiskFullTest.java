package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.bmcast.testing.Tools;
import io.bmcast.vmm.DiskBus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest writing while its local disk fills up (issue 8, item 3): the local disk is a file on a small tmpfs. The
 * mediator answers the write it cannot store with ENOSPC, QEMU (virtio-blk, {@code werror=enospc} by default)
 * pauses the guest rather than failing the write, the copy stalls with the reason, and once the file system is
 * made larger the instance resumes the guest, whose write then completes with the right bytes.
 */
class GuestDiskFullTest {
    private static final int FILL_MIB = 32;

    @TempDir
    Path tmp;
    Path mnt;

    @AfterEach
    void unmount() {
        if (mnt != null) Tools.run(Duration.ofSeconds(20), "umount", "-l", mnt.toString());
    }

    @Test
    @Timeout(480)
    void aGuestWriteIntoAFullDiskPausesTheGuestAndCompletesOnceSpaceIsFreed() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            mnt = Files.createDirectories(tmp.resolve("mnt"));
            Tools.Result m = Tools.run(Duration.ofSeconds(20), "mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", mnt.toString());
            if (m.exitCode() != 0) mnt = null;
            assumeTrue(mnt != null, "cannot mount a tmpfs here (needs root): " + m.stderr().strip());
            Files.createSymbolicLink(d.disk, mnt.resolve("disk.img")); // the local disk lives on the small file system

            d.startImageServer("200Mbit");
            d.bus = DiskBus.VIRTIO;
            // A slow background copy: the disk still streams (its writes go through the mediator) when the guest fills it.
            d.start(64 << 10, d.guest.append(DiskBus.VIRTIO.guestDevice()), d.guest.readyMarker(), q -> {});
            d.awaitReady();

            String write = "yes bmcast-fill | head -c " + (FILL_MIB << 20) + " > /fill && sync && echo 3 > /proc/sys/vm/drop_caches"
                    + " && sha256sum /fill";
            // Its own thread: the common pool (one thread on two cores) is what Tools.run drains output with.
            CompletableFuture<String> writer = new CompletableFuture<>();
            Thread.ofPlatform().daemon().name("guest-writer").start(() -> {
                try {
                    var r = d.console().run(write, Duration.ofSeconds(300));
                    if (!r.ok()) throw new AssertionError("the guest's write failed (" + r.exitCode() + "):\n" + r.output());
                    writer.complete(r.output());
                } catch (Throwable e) {
                    writer.completeExceptionally(e);
                }
            });
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (!d.eventsText().contains("\"event\":\"guest-paused\"")) {
                if (writer.isDone()) fail("the guest's write finished on a full disk: " + writer.get() + "\n" + d.status());
                if (System.nanoTime() > deadline) fail("the guest was never paused: " + d.status());
                Thread.sleep(200);
            }
            Map<String, Object> s = d.status();
            for (int i = 0; i < 100 && !"stalled".equals(s.get("phase")); i++) {
                Thread.sleep(200);
                s = d.status();
            }
            assertEquals("stalled", s.get("phase"), "the copy waits for space: " + s);
            assertTrue(String.valueOf(s.get("lastError")).contains("local disk full"), "the reason: " + s);

            Tools.run(Duration.ofSeconds(20), "mount", "-o", "remount,size=2g", mnt.toString()).requireSuccess("remount");
            String out = writer.get(300, java.util.concurrent.TimeUnit.SECONDS);
            byte[] expect = new byte[FILL_MIB << 20];
            byte[] line = "bmcast-fill\n".getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < expect.length; i++) expect[i] = line[i % line.length];
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(expect));
            assertTrue(out.contains(sha), "the guest reads back what it wrote (" + sha + "):\n" + out);
            assertTrue(d.eventsText().contains("\"event\":\"guest-resumed\""), d.eventsText());
            d.checkImageData();
        }
    }
}

package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.testing.Tools;
import io.bmcast.vmm.GuestConsole;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Linux guest (the busybox sample guest) boots from an image streamed by the image server over an
 * emulated 200 Mbit/s link, with the background copy slow enough that the guest does its work while the disk is
 * still streaming; the instance de-virtualizes it live, the image server goes away, and the guest neither
 * notices nor loses a byte.
 */
class StreamedBootTest {
    /**
     * 4 Mbit/s (lower than a real deployment would use, because the guest's image holds only ~25 MiB): the
     * background copy alone would take ~40 s, so the guest boots and runs its checks while the disk still streams
     * even when this shared machine slows the TCG guest down and not the (wall-clock) rate limit.
     */
    static final long SLOW_HYDRATION = 500_000;

    @TempDir
    Path tmp;

    @Test
    @Timeout(360)
    void guestBootsFromStreamedImageAndEndsOnItsLocalDisk() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit");
            d.start(SLOW_HYDRATION);
            d.awaitReady();

            d.checkImageData();
            String first = d.writeRandomFile("/root/first.bin", 4);
            Map<String, Object> during = d.status();
            assertEquals("streaming", during.get("phase"), "the guest's checks must run while the disk streams: " + during);
            assertTrue(Deployment.number(during, "bytesOnDemand") > 0, "nothing was fetched on demand: " + during);
            assertFalse(d.eventsText().contains("\"hydrated\""), d.eventsText());

            d.awaitDevirtualized();
            d.killImageServer();
            d.run("echo 3 > /proc/sys/vm/drop_caches");
            d.checkImageData();
            Deployment.assertAllOk(d.run("sha256sum -c /root/first.bin.sha256"), 1);
            String second = d.writeRandomFile("/root/second.bin", 4);

            Instance.Result r = d.powerOff(true);
            assertEquals(0, r.vmmExitCode(), "QEMU's exit code after the guest powered off");
            assertTrue(r.hydrated() > 0 && r.devirtualized() >= r.hydrated(), r.toString());
            assertTrue(r.guestReady() > 0 && r.guestReady() < r.hydrated(), "ready before hydrated: " + r);
            assertEquals(0, r.mediatorRestarts(), r.toString());

            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
            d.assertFileOnDisk("/root/first.bin", first);
            d.assertFileOnDisk("/root/second.bin", second);
        }
    }

    /**
     * Byte for byte: a guest that only reads (root mounted read-only, a plain shell as init so nothing remounts
     * it) leaves a local disk identical to the image, holes included, as {@code qemu-img compare} sees it.
     */
    @Test
    @Timeout(300)
    void readOnlyGuestLeavesLocalDiskIdenticalToImage() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            assertTrue(d.guest.append().contains(" rw"), d.guest.append());
            d.startImageServer("200Mbit");
            d.start(4 * SLOW_HYDRATION, d.guest.append().replace(" rw", " ro") + " init=/bin/sh", null, q -> {});
            GuestConsole con = d.console();
            con.awaitShell(Deployment.BOOT);
            String mounts = d.run("export PATH=/sbin:/bin:/usr/sbin:/usr/bin; mount -t proc proc /proc && grep ' / ' /proc/mounts");
            assertTrue(mounts.contains(" ro,"), "the root must be mounted read-only: " + mounts);
            d.checkImageData();
            d.awaitDevirtualized();
            d.run("echo 3 > /proc/sys/vm/drop_caches");
            d.checkImageData();
            Instance.Result r = d.powerOff(false);
            assertEquals(0, r.vmmExitCode());

            Tools.Result cmp = Tools.run(Duration.ofMinutes(3), "qemu-img", "compare", "-f", "raw", "-F", "raw",
                    d.guest.disk().toString(), d.disk.toString());
            assertEquals(0, cmp.exitCode(), "qemu-img compare image local-disk:\n" + cmp.stdout() + cmp.stderr());
            assertTrue(cmp.stdout().contains("Images are identical"), cmp.stdout());
        }
    }
}

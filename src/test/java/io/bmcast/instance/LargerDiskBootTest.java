package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The busybox guest deployed on a machine whose disk is twice its image: the guest sees the whole disk while it
 * streams and after de-virtualization, and what it writes past the image (the tenant's space) lands on the
 * local disk in both phases.
 */
class LargerDiskBootTest {
    @TempDir
    java.nio.file.Path tmp;

    @Test
    @Timeout(360)
    void theGuestSeesAndUsesTheWholeDisk() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            long image = d.guest.diskSize();
            long diskSize = 2 * image;
            long sectors = diskSize / 512;
            long pastImage = image / 512 + 2048; // 1 MiB into the tenant's space
            d.localDiskOf(diskSize);
            d.startImageServer("200Mbit");
            d.start(StreamedBootTest.SLOW_HYDRATION);
            d.awaitReady();

            assertEquals(Long.toString(sectors), d.run("cat /sys/block/vda/size").strip(), "disk size while streaming");
            writeSector(d, pastImage, "written-while-streaming");
            assertEquals("streaming", d.status().get("phase"), "written through the mediator: " + d.status());
            d.checkImageData();

            d.awaitDevirtualized();
            assertEquals(Long.toString(sectors), d.run("cat /sys/block/vda/size").strip(), "disk size on the local disk");
            d.run("echo 3 > /proc/sys/vm/drop_caches");
            assertEquals("written-while-streaming", readSector(d, pastImage));
            writeSector(d, sectors - 1, "the-last-sector");
            d.run("echo 3 > /proc/sys/vm/drop_caches");
            assertEquals("the-last-sector", readSector(d, sectors - 1));

            Instance.Result r = d.powerOff(true);
            assertEquals(0, r.vmmExitCode());
            assertEquals(diskSize, Files.size(d.disk), "the local disk keeps its size");
            assertEquals(diskSize, ((Number) r.finalStatus().get("sizeBytes")).longValue(), r.finalStatus().toString());
            assertEquals("written-while-streaming", hostRead(d, pastImage, 23));
            assertEquals("the-last-sector", hostRead(d, sectors - 1, 15));
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
        }
    }

    /** Writes {@code text} at the start of sector {@code sector} of the guest's disk, then syncs. */
    private static void writeSector(Deployment d, long sector, String text) throws Exception {
        d.run("printf '" + text + "' | dd of=/dev/vda bs=512 seek=" + sector + " conv=notrunc 2>/dev/null && sync");
    }

    private static String readSector(Deployment d, long sector) throws Exception {
        return d.run("dd if=/dev/vda bs=512 skip=" + sector + " count=1 2>/dev/null | tr -d '\\000'").strip();
    }

    private static String hostRead(Deployment d, long sector, int length) throws Exception {
        byte[] b = new byte[length];
        try (RandomAccessFile f = new RandomAccessFile(d.disk.toFile(), "r")) {
            f.seek(sector * 512);
            f.readFully(b);
        }
        return new String(b, StandardCharsets.US_ASCII);
    }
}

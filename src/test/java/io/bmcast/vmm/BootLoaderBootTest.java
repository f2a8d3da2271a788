package io.bmcast.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.guest.BootableDisk;
import io.bmcast.guest.Ext4Image;
import io.bmcast.guest.GuestImage;
import io.bmcast.testing.TestFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full-disk image boots the way users' images do, with no {@code -kernel}: SeaBIOS runs the MBR code, which
 * runs syslinux from the active FAT partition, which loads the kernel and Debian's initramfs, which mounts partition 2
 * by its file-system UUID.
 */
class BootLoaderBootTest {
    static final Duration BOOT = Duration.ofSeconds(120);
    static final Duration CMD = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @Test
    @Timeout(240)
    void fullDiskImageBootsThroughItsOwnBootLoader() throws Exception {
        GuestImage guest = BusyboxGuest.bootableImage();
        Path disk = BusyboxGuest.copyDisk(guest, tmp);
        QemuSpec spec = QemuSpec.forGuest(guest, new GuestDisk.Local(disk), tmp.resolve("vm"));
        assertNull(spec.kernel());
        String line = String.join(" ", Qemu.commandLine(spec, Accel.TCG));
        assertFalse(line.contains("-kernel") || line.contains("-append"), line);
        assertTrue(line.contains("bootindex=0"), line);
        try (Qemu vm = Qemu.start(spec)) {
            GuestConsole con = vm.console();
            con.await("SYSLINUX", BOOT);
            con.await(guest.readyMarker(), BOOT);
            long readyMs = vm.elapsedNanos() / 1_000_000;

            GuestConsole.Result cmdline = con.run("cat /proc/cmdline", CMD);
            assertTrue(cmdline.output().startsWith("BOOT_IMAGE=/vmlinuz ") && cmdline.output().contains("root=UUID="),
                    "the kernel was started by syslinux with the image's command line: " + cmdline.output());
            GuestConsole.Result parts = con.run("grep -c 'vda[12]$' /proc/partitions", CMD);
            assertEquals("2", parts.output().strip(), "the guest sees both partitions");
            GuestConsole.Result check = con.run("cd " + guest.dataDir() + " && sha256sum -c SHA256SUMS", CMD);
            assertTrue(check.ok(), "checksums: " + check.output());
            GuestConsole.Result root = con.run("grep ' / ' /proc/mounts", CMD);
            assertTrue(root.output().startsWith("/dev/vda2 "), "the initramfs found the root partition by UUID: " + root.output());
            assertEquals(guest.checksums().size(), check.output().lines().filter(l -> l.endsWith(": OK")).count());
            assertTrue(con.run("echo written-by-the-guest > /root/hello.txt && sync", CMD).ok());
            // Read-only before power-off so the journal is clean and e2fsck on the host has nothing to say.
            GuestConsole.Result ro = con.run("mount -o remount,ro /", CMD);
            assertTrue(ro.ok(), "remount read-only: " + ro.output());

            con.send("poweroff -f");
            assertEquals(0, vm.waitFor(Duration.ofSeconds(60)), "QEMU exit code after guest power-off");
            System.out.printf("busybox-disk boot through SeaBIOS + syslinux from a local disk: %d ms (%s)%n",
                    readyMs, vm.accel());
        }
        Ext4Image.check(disk, guest.rootOffset());
        assertEquals("written-by-the-guest\n", new String(Ext4Image.readFile(disk, guest.rootOffset(), "/root/hello.txt"),
                StandardCharsets.UTF_8));
        long firstDifference = TestFiles.firstDifference(guest.disk(), disk);
        assertTrue(firstDifference >= guest.rootOffset(), "MBR and boot partition untouched, the root written: first "
                + "difference at " + firstDifference);
    }
}

package io.bmcast.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.guest.Ext4Image;
import io.bmcast.guest.GuestImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A busybox guest boots from qemu-nbd through the nbd/raw nodes, proves its data intact, is de-virtualized onto
 * the local file while running, keeps reading and writing with the NBD server gone, and what it wrote is on the
 * local disk after power-off.
 */
class DevirtualizationTest {
    static final Duration BOOT = Duration.ofSeconds(90);
    static final Duration CMD = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @Test
    @Timeout(240)
    void guestSurvivesLosingItsNbdServerAfterDevirtualization() throws Exception {
        GuestImage guest = BusyboxGuest.image();
        Path disk = BusyboxGuest.copyDisk(guest, tmp);
        Path sock = tmp.resolve("nbd.sock");
        try (QemuNbd nbd = new QemuNbd(disk, sock, tmp.resolve("qemu-nbd.log")).start();
             Qemu vm = Qemu.start(QemuSpec.forGuest(guest, new GuestDisk.Nbd(sock), tmp.resolve("vm")))) {
            GuestConsole con = vm.console();
            con.await(guest.readyMarker(), BOOT);
            long bootMs = vm.elapsedNanos() / 1_000_000;

            GuestConsole.Result check = con.run("cd " + guest.dataDir() + " && sha256sum -c SHA256SUMS", CMD);
            assertTrue(check.ok(), "checksums through NBD: " + check.output());
            assertEquals(guest.checksums().size(), check.output().lines().filter(l -> l.endsWith(": OK")).count());
            assertTrue(con.run("echo before > /root/before.txt && sync", CMD).ok());

            Devirtualizer devirt = new Devirtualizer(vm.qmp());
            assertTrue(devirt.currentBacking().contains("nbd"), devirt.currentBacking());
            IOException bad = assertThrows(IOException.class, () -> devirt.devirtualize(tmp));
            assertTrue(bad.getMessage().contains("failed to attach the local disk"), bad.getMessage());
            assertTrue(devirt.currentBacking().contains("nbd"), "a failed attempt leaves the guest on NBD");
            devirt.devirtualize(disk);
            assertEquals(disk.toString(), devirt.currentBacking());
            assertFalse(devirt.nodeNames().contains(GuestDisk.NBD_NODE), devirt.nodeNames().toString());
            nbd.kill9();

            assertTrue(con.run("echo 3 > /proc/sys/vm/drop_caches", CMD).ok());
            GuestConsole.Result again = con.run("cd " + guest.dataDir() + " && sha256sum -c SHA256SUMS", CMD);
            assertTrue(again.ok(), "checksums from the local disk: " + again.output());
            assertTrue(con.run("echo written-after-devirt > /root/after.txt && sync", CMD).ok());
            GuestConsole.Result read = con.run("echo 3 > /proc/sys/vm/drop_caches; cat /root/before.txt", CMD);
            assertEquals("before", read.output().strip());

            con.send("sync; poweroff -f");
            assertEquals(0, vm.waitFor(Duration.ofSeconds(60)), "QEMU exit code after guest power-off");
            System.out.println("rejected de-virtualization: " + bad.getMessage());
            System.out.printf("busybox boot over NBD: %d ms (%s)%n", bootMs, vm.accel());
        }
        assertEquals("written-after-devirt\n",
                new String(Ext4Image.readFile(disk, "/root/after.txt"), StandardCharsets.UTF_8));
        assertEquals("before\n", new String(Ext4Image.readFile(disk, "/root/before.txt"), StandardCharsets.UTF_8));
        assertTrue(Files.size(disk) == guest.diskSize());
    }
}

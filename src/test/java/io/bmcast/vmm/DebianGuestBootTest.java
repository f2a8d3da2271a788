package io.bmcast.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Debian guest boots to multi-user.target over NBD and its data checks out. Off by default: building it runs
 * debootstrap (a minute and network access to the Debian mirror). Run with {@code BMCAST_TEST_DEBIAN=1}.
 */
@EnabledIfEnvironmentVariable(named = "BMCAST_TEST_DEBIAN", matches = "1")
class DebianGuestBootTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(600)
    void debianBootsToMultiUserOverNbd() throws Exception {
        GuestBuilder b = new GuestBuilder(GuestKind.DEBIAN, 0);
        GuestImage guest = b.build(b.defaultDir());
        Path disk = BusyboxGuest.copyDisk(guest, tmp);
        Path sock = tmp.resolve("nbd.sock");
        try (QemuNbd nbd = new QemuNbd(disk, sock, tmp.resolve("qemu-nbd.log")).start();
             Qemu vm = Qemu.start(QemuSpec.forGuest(guest, new GuestDisk.Nbd(sock), tmp.resolve("vm"))
                     .withMemoryMiB(1024))) {
            vm.console().await(guest.readyMarker(), Duration.ofSeconds(180));
            long bootMs = vm.elapsedNanos() / 1_000_000;
            assertTrue(nbd.isAlive(), "qemu-nbd served the whole boot");
            vm.console().await("root@", Duration.ofSeconds(60));
            GuestConsole.Result r = vm.console().run("cd /data && sha256sum -c SHA256SUMS && systemctl is-system-running",
                    Duration.ofSeconds(60));
            assertTrue(r.ok() || r.output().contains("degraded"), r.output());
            assertTrue(r.output().contains("data-08.bin: OK"), r.output());
            System.out.printf("debian boot to multi-user over NBD: %d ms (%s)%n", bootMs, vm.accel());

            // The ACPI power button (an instance being destroyed): logind shuts the system down and powers off.
            vm.powerDown();
            assertEquals(0, vm.waitFor(Duration.ofSeconds(120)), "QEMU exits once the guest powered off");
            String console = Files.readString(Qemu.consoleLog(tmp.resolve("vm")));
            assertTrue(console.contains("reboot: Power down"), "the kernel powered off:\n" + console);
        }
    }
}

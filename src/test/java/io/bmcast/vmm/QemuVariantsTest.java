package io.bmcast.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.guest.GuestImage;
import io.bmcast.util.Jackson;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's other disk layouts (local baseline on virtio, QEMU copy-on-read + block-stream) and QMP itself. */
class QemuVariantsTest {
    @TempDir
    Path tmp;

    @Test
    void commandLineNamesTheNodesDevirtualizationNeeds() throws Exception {
        QemuSpec spec = new QemuSpec(Path.of("/run/x"), new GuestDisk.Nbd(Path.of("/run/x/nbd.sock")), DiskBus.NVME,
                Path.of("/k"), null, "console=ttyS0", 512, Accel.TCG, List.of());
        List<String> argv = Qemu.commandLine(spec, Accel.TCG);
        String line = String.join(" ", argv);
        assertTrue(line.contains("-accel tcg"), line);
        assertEquals(Jackson.MAPPER.readTree("{\"driver\":\"nbd\",\"node-name\":\"nbd0\","
                        + "\"server\":{\"type\":\"unix\",\"path\":\"/run/x/nbd.sock\"},\"reconnect-delay\":20}"),
                Jackson.MAPPER.readTree(argv.get(argv.indexOf("-blockdev") + 1)));
        assertTrue(line.contains("-blockdev {\"driver\":\"raw\",\"node-name\":\"fmt\",\"file\":\"nbd0\"}"), line);
        assertTrue(line.contains("-device nvme,id=disk0,drive=fmt,serial=bmcast0"), line);
        assertEquals("console=ttyS0 nvme_core.io_timeout=" + DiskBus.NVME_IO_TIMEOUT_SECONDS,
                argv.get(argv.indexOf("-append") + 1), "an NVMe guest rides out host stalls past the driver's 30 s");
    }

    @Test
    void onlyNvmeGuestsGetALongerCommandTimeoutAndAnOwnSettingWins() {
        assertEquals("console=ttyS0", DiskBus.VIRTIO.withKernelArgs("console=ttyS0"));
        assertEquals("root=UUID=x nvme_core.io_timeout=600", DiskBus.NVME.withKernelArgs("root=UUID=x"));
        assertEquals("root=UUID=x nvme_core.io_timeout=5", DiskBus.NVME.withKernelArgs("root=UUID=x nvme_core.io_timeout=5"));
        assertEquals(null, DiskBus.NVME.withKernelArgs(null), "no kernel, no command line");
        QemuSpec spec = new QemuSpec(Path.of("/run/x"), new GuestDisk.Local(Path.of("/d.img")), DiskBus.VIRTIO,
                Path.of("/k"), Path.of("/i"), "console=ttyS0", 512, Accel.TCG, List.of());
        List<String> argv = Qemu.commandLine(spec, Accel.TCG);
        assertEquals("console=ttyS0", argv.get(argv.indexOf("-append") + 1));
        assertEquals("/i", argv.get(argv.indexOf("-initrd") + 1));
        assertTrue(String.join(" ", argv).contains("-device virtio-blk-pci,id=disk0,drive=fmt"), argv.toString());
    }

    @Test
    @Timeout(180)
    void localDiskOnVirtioBootsAndQmpReportsErrorsAndEvents() throws Exception {
        GuestImage guest = BusyboxGuest.image();
        Path disk = BusyboxGuest.copyDisk(guest, tmp);
        QemuSpec spec = QemuSpec.forGuest(guest, new GuestDisk.Local(disk), tmp.resolve("vm")).withBus(DiskBus.VIRTIO, guest);
        try (Qemu vm = Qemu.start(spec)) {
            vm.console().await(guest.readyMarker(), Duration.ofSeconds(120));
            GuestConsole.Result r = vm.console().run("grep -c vda /proc/partitions; cd /data && sha256sum -c SHA256SUMS",
                    Duration.ofSeconds(60));
            assertTrue(r.ok() && r.output().startsWith("1\n"), r.output());

            QmpException e = assertThrows(QmpException.class,
                    () -> vm.qmp().execute("blockdev-del", Map.of("node-name", "no-such-node")));
            assertEquals("GenericError", e.errorClass());
            assertTrue(e.getMessage().contains("no-such-node"), e.getMessage());

            vm.qmp().execute("stop", Map.of());
            vm.qmp().awaitEvent("STOP", Duration.ofSeconds(10));
            @SuppressWarnings("unchecked")
            Map<String, Object> status = (Map<String, Object>) vm.qmp().execute("query-status", Map.of());
            assertEquals("paused", status.get("status"));
            vm.qmp().execute("cont", Map.of());
            vm.qmp().awaitEvent("RESUME", Duration.ofSeconds(10));

            vm.console().send("poweroff -f");
            Qmp.Event shutdown = vm.qmp().awaitEvent("SHUTDOWN", Duration.ofSeconds(60));
            assertEquals(Boolean.TRUE, shutdown.data().get("guest"));
            assertEquals(0, vm.waitFor(Duration.ofSeconds(30)));
        }
    }

    @Test
    @Timeout(300)
    void copyOnReadAndBlockStreamMakeTheOverlayStandalone() throws Exception {
        GuestImage guest = BusyboxGuest.image();
        Path sock = tmp.resolve("nbd.sock");
        Path overlay = tmp.resolve("overlay.qcow2");
        try (QemuNbd nbd = new QemuNbd(guest.disk(), sock, tmp.resolve("qemu-nbd.log")).start();
             Qemu vm = Qemu.start(QemuSpec.forGuest(guest, new GuestDisk.CopyOnRead(sock, overlay, guest.diskSize()),
                     tmp.resolve("vm")))) {
            vm.console().await(guest.readyMarker(), Duration.ofSeconds(120));
            long t0 = System.nanoTime();
            vm.startBlockStream("stream0");
            Qmp.Event done = vm.qmp().awaitEvent("BLOCK_JOB_COMPLETED", e -> "stream0".equals(e.data().get("device")),
                    Duration.ofSeconds(240));
            assertEquals(null, done.data().get("error"), done.data().toString());
            System.out.printf("block-stream of a 32 GiB sparse busybox disk: %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            nbd.kill9();
            GuestConsole.Result r = vm.console().run(
                    "echo 3 > /proc/sys/vm/drop_caches; cd /data && sha256sum -c SHA256SUMS", Duration.ofSeconds(60));
            assertTrue(r.ok(), "after streaming, with the server gone: " + r.output());
        }
    }
}

package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.UsageException;
import io.bmcast.guest.Ext4Image;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.node.NodeState;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.transport.NbdUri;
import io.bmcast.vmm.DiskBus;
import io.bmcast.vmm.GuestConsole;
import io.bmcast.vmm.Qemu;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * An instance deployed by streaming a full-disk image that boots itself: no kernel is passed, so the firmware boots
 * the MBR and syslinux straight off the mediated disk, whose first blocks come from the image server on demand.
 * The guest checks its data, the instance de-virtualizes under it, the guest checks again from the local disk,
 * writes, and powers off; the local disk is then the image plus what the guest wrote.
 */
class InstanceBootLoaderTest {
    private static final Duration CMD = Duration.ofSeconds(90);
    /**
     * Unthrottled, the background copy of the ~40 MiB the image holds beats the firmware to it over a local socket
     * and the guest would boot from a disk already local. At 2 MiB/s the copy takes ~20 s, so the boot loader and
     * the kernel it loads come through the mediator on demand, as on a real link.
     */
    private static final long HYDRATE_RATE = 2L << 20;

    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void instanceBootsAFullDiskImageThroughItsBootLoaderAndDevirtualizes() throws Exception {
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX_DISK, 0);
        GuestImage guest = b.build(b.defaultDir());
        assertNull(guest.kernel());
        Path local = tmp.resolve("local.img");
        Path state = tmp.resolve("state");
        Path console = tmp.resolve("console.log");
        List<String> seen = new CopyOnWriteArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        Instance.Result r;
        try (TestServer server = TestServer.on(tmp).file("busybox-disk", guest.disk(), false).start();
             EventLog events = new EventLog(System.nanoTime(), tmp.resolve("events.jsonl"), System.out)) {
            Instance.Spec spec = new Instance.Spec(NbdUri.unix(server.socket(), "busybox-disk"), local, state,
                    null, null, null, 512, DiskBus.DEFAULT, console, tmp.resolve("events.jsonl"), 64 << 10, HYDRATE_RATE,
                    guest.readyMarker());
            r = new Instance(spec, events, System.out,
                    qemu -> Thread.ofVirtual().name("guest-driver").start(() -> drive(qemu, guest, state, seen, errors)))
                    .run();
        }
        String log = Files.readString(console);
        assertEquals(List.of(), errors, "guest driver errors; console:\n" + log);
        assertEquals(0, r.vmmExitCode(), "QEMU exit code; console:\n" + log);
        assertTrue(log.contains("SYSLINUX"), "syslinux ran from the streamed disk:\n" + log);
        assertTrue(log.contains("power button pressed, powering off"), "powered off by the ACPI button:\n" + log);
        assertTrue(r.guestReady() > 0 && r.hydrated() > 0 && r.devirtualized() > 0, Instance.describe(r));
        assertEquals(4, seen.size(), seen.toString());
        assertTrue(seen.get(0).startsWith("BOOT_IMAGE=/vmlinuz "), "started by the boot loader: " + seen.get(0));
        assertEquals(guest.checksums().size() + "", seen.get(1).strip(), "files OK while streaming or just after");
        assertEquals("devirtualized", seen.get(2));
        assertEquals(guest.checksums().size() + "", seen.get(3).strip(), "files OK from the local disk");

        // The local disk is the image, except in the root filesystem the guest mounted and wrote.
        assertEquals(guest.diskSize(), Files.size(local));
        long firstDifference = TestFiles.firstDifference(guest.disk(), local);
        assertTrue(firstDifference >= guest.rootOffset(), "MBR and boot partition byte-equal the image; first "
                + "difference at " + firstDifference);
        Ext4Image.check(local, guest.rootOffset());
        assertEquals("written-after-devirt\n", new String(Ext4Image.readFile(local, guest.rootOffset(), "/root/after.txt"),
                StandardCharsets.UTF_8));
        assertEquals(new String(Ext4Image.readFile(guest.disk(), guest.rootOffset(), "/data/SHA256SUMS")),
                new String(Ext4Image.readFile(local, guest.rootOffset(), "/data/SHA256SUMS")));
        Map<String, Object> status = r.finalStatus();
        assertTrue(((Number) status.get("bytesOnDemand")).longValue() > 0, "the boot read the streamed disk: " + status);
        System.out.printf("busybox-disk instance without a kernel: %s; %s on demand, %s in the background%n",
                Instance.describe(r), status.get("bytesOnDemand"), status.get("bytesBackground"));
    }

    /** In the guest: wait for a shell, check, wait for de-virtualization, check again, write, press the power button. */
    private static void drive(Qemu qemu, GuestImage guest, Path state, List<String> seen, List<Throwable> errors) {
        GuestConsole con = qemu.console();
        String check = "cd " + guest.dataDir() + " && sha256sum -c SHA256SUMS | grep -c ': OK'";
        try {
            con.awaitShell(Duration.ofMinutes(2)); // Instance's ReadyWatch owns the ready marker; a shell that answers is enough here
            seen.add(con.run("cat /proc/cmdline", CMD).output());
            seen.add(con.run(check, CMD).output());
            long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            while (!NodeState.isDevirtualized(state) && System.nanoTime() < deadline && qemu.isAlive()) {
                Thread.sleep(100);
            }
            if (!NodeState.isDevirtualized(state)) throw new IOException("not de-virtualized within 3 minutes");
            seen.add("devirtualized");
            seen.add(con.run("echo 3 > /proc/sys/vm/drop_caches; " + check, CMD).output());
            GuestConsole.Result w = con.run("echo written-after-devirt > /root/after.txt && sync && mount -o remount,ro /", CMD);
            if (!w.ok()) throw new IOException("write and remount read-only: " + w.output());
            qemu.powerDown(); // the ACPI power button: the guest's acpid powers it off
        } catch (Throwable t) {
            errors.add(t);
            try {
                qemu.qmp().execute("quit", Map.of());
            } catch (IOException ignored) {
                // QEMU is going away anyway
            }
        }
    }

    @Test
    void cliTakesNoKernelToMeanBootTheDisk() {
        Instance.Spec s = runCommand("--image", "nbd+unix:///img?socket=/tmp/x.sock", "--disk", "/tmp/d.img", "--state", "/tmp/st")
                .spec();
        assertNull(s.kernel());
        assertNull(s.initrd());
        assertNull(s.append(), "no command line: the image's boot loader has its own");
        UsageException e = assertThrows(UsageException.class, () -> runCommand("--image", "nbd+unix:///img?socket=/tmp/x.sock",
                "--disk", "/tmp/d.img", "--state", "/tmp/st", "--append", "quiet").spec());
        assertTrue(e.getMessage().contains("--append needs --kernel"), e.getMessage());
    }

    private static InstanceCommand.Run runCommand(String... args) {
        InstanceCommand.Run run = new InstanceCommand.Run();
        new CommandLine(run).setCaseInsensitiveEnumValuesAllowed(true).parseArgs(args);
        return run;
    }
}

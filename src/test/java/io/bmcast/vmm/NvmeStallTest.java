package io.bmcast.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.guest.GuestImage;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Why NVMe guests lose their disk on a busy host, and bmcast's answer (see {@link DiskBus}): the host takes longer
 * than the Linux NVMe driver's command timeout to complete a write. nbdkit's pause filter holds every request for a
 * set time while the guest writes and fsyncs; QEMU completes the guest's commands only when nbdkit answers.
 * With the driver's timeout cut to 5 s (the stock 30 s, shortened so the test is quick) a 15 s stall makes the
 * driver time commands out and reset the controller, what the user sees on a busy host; with bmcast's NVMe
 * command line the guest rides out a 40 s stall, longer than the stock timeout, and its write verifies.
 */
class NvmeStallTest {
    static final Duration CMD = Duration.ofSeconds(120);
    static final Pattern TIMEOUT = Pattern.compile("nvme nvme\\d+: I/O \\d+ (\\(.*\\) )?QID \\d+ timeout");
    static final Pattern RESET = Pattern.compile("nvme nvme\\d+: .*(reset controller|Disabling)");

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void bmcastsNvmeCommandLineRidesOutAStallLongerThanTheStockTimeout() throws Exception {
        String console = stall(null, Duration.ofSeconds(40), true);
        assertFalse(TIMEOUT.matcher(console).find() || RESET.matcher(console).find() || console.contains("I/O error"),
                "no timeout, no reset, no I/O error with nvme_core.io_timeout=" + DiskBus.NVME_IO_TIMEOUT_SECONDS + ":\n" + console);
    }

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void withTheDriversOwnTimeoutAStallResetsTheController() throws Exception {
        String console = stall("nvme_core.io_timeout=5", Duration.ofSeconds(15), false);
        assertTrue(TIMEOUT.matcher(console).find(), "the driver timed the stalled commands out:\n" + console);
        assertTrue(RESET.matcher(console).find(), "and reset the controller:\n" + console);
        console.lines().filter(l -> l.contains("nvme") || l.contains("I/O error") || l.contains("EXT4-fs"))
                .forEach(l -> System.out.println("stock timeout, 15 s stall: " + l.strip()));
    }

    /**
     * Boots the busybox guest on NVMe over a pausable nbdkit, pauses it for {@code stall} while the guest writes
     * 1 MiB with O_DIRECT and fsync, resumes, and returns the console. With {@code mustSurvive}, asserts the write
     * completed and reads back from the disk (caches dropped), and that the guest powers off cleanly.
     */
    private String stall(String extraArgs, Duration stall, boolean mustSurvive) throws Exception {
        GuestImage guest = BusyboxGuest.image();
        Path disk = BusyboxGuest.copyDisk(guest, tmp);
        Path sock = tmp.resolve("nbd.sock"), control = tmp.resolve("pause.sock");
        QemuSpec base = QemuSpec.forGuest(guest, new GuestDisk.Nbd(sock), tmp.resolve("vm")).withBus(DiskBus.NVME, guest);
        String append = base.append() + " loglevel=5" + (extraArgs == null ? "" : " " + extraArgs);
        QemuSpec spec = new QemuSpec(base.workDir(), base.disk(), DiskBus.NVME, base.kernel(), base.initrd(), append,
                base.memoryMiB(), base.accel(), base.extraArgs());
        String line = String.join(" ", Qemu.commandLine(spec, Accel.TCG));
        assertTrue(line.contains(extraArgs == null ? "nvme_core.io_timeout=" + DiskBus.NVME_IO_TIMEOUT_SECONDS : extraArgs)
                && (extraArgs == null || !line.contains("io_timeout=" + DiskBus.NVME_IO_TIMEOUT_SECONDS)), line);
        Process nbdkit = new ProcessBuilder(List.of("nbdkit", "--foreground", "--unix", sock.toString(), "--filter=pause",
                "file", disk.toString(), "pause-control=" + control))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(tmp.resolve("nbdkit.log").toFile()))
                .start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!Files.exists(sock) || !Files.exists(control)) {
                if (!nbdkit.isAlive() || System.nanoTime() > deadline) throw new IOException("nbdkit did not start");
                Thread.sleep(20);
            }
            try (Qemu vm = Qemu.start(spec)) {
                GuestConsole con = vm.console();
                con.await(guest.readyMarker(), Duration.ofSeconds(180));
                assertTrue(con.run("head -c 1048576 /dev/urandom > /run/w && sync", CMD).ok());
                pauseControl(control, 'p');
                assertTrue(con.run("(dd if=/run/w of=/root/stall bs=1M oflag=direct conv=fsync 2>/dev/null;"
                        + " echo stall-dd-exit=$?) > /dev/console 2>&1 &", CMD).ok());
                Thread.sleep(stall.toMillis());
                pauseControl(control, 'r');
                if (mustSurvive) {
                    con.awaitPattern(Pattern.compile("stall-dd-exit=\\d+"), CMD);
                    assertTrue(con.output().contains("stall-dd-exit=0"), con.output());
                    GuestConsole.Result r = con.run("echo 3 > /proc/sys/vm/drop_caches; cmp /run/w /root/stall"
                            + " && echo alive > /root/after && sync && cat /root/after", CMD);
                    assertTrue(r.ok() && r.output().strip().endsWith("alive"), "the disk after the stall: " + r.output());
                    assertTrue(con.run("mount -o remount,ro /", CMD).ok());
                    con.send("poweroff -f");
                    assertEquals(0, vm.waitFor(Duration.ofSeconds(120)));
                } else {
                    // Give the driver's reset time to show on the console before QEMU is stopped.
                    try {
                        con.awaitPattern(RESET, Duration.ofSeconds(90));
                    } catch (IOException notShown) {
                        // asserted by the caller, with the console
                    }
                }
                return con.output();
            }
        } finally {
            nbdkit.destroy();
            if (!nbdkit.waitFor(10, TimeUnit.SECONDS)) nbdkit.destroyForcibly();
        }
    }

    /** Sends {@code p} (pause: waits for requests in flight) or {@code r} (resume) and waits for its echo. */
    private static void pauseControl(Path control, char command) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(control))) {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) command}));
            ByteBuffer answer = ByteBuffer.allocate(1);
            if (ch.read(answer) != 1 || answer.get(0) != Character.toUpperCase(command)) {
                throw new IOException("nbdkit's pause filter did not acknowledge '" + command + "'");
            }
        }
    }
}

package io.bmcast.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.guest.Ext4Image;
import io.bmcast.guest.GuestImage;
import io.bmcast.util.Units;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A busy guest keeps its disk: the busybox guest on a plain local disk runs direct reads of its disk and fsync'd
 * direct writes of files, concurrently and without pause, for {@code -Dbmcast.soak=DURATION} (default 150s; run it
 * longer by hand, e.g. {@code -Dbmcast.soak=20m}). At the end the guest must still answer a command that touches
 * its disk, every file's last write must read back (caches dropped) and survive power-off onto the host's copy,
 * the file system must be clean, and the console must show no I/O error and no controller reset.
 *
 * <p>One soak per device; each takes the soak time plus about a minute. The console runs at {@code loglevel=5} so that the NVMe driver's timeout and reset warnings, which the
 * guest's {@code quiet} hides, would show.
 */
class DiskSoakTest {
    static final Duration SOAK = Duration.ofNanos(Units.parseDurationNanos(System.getProperty("bmcast.soak", "150s")));
    static final Duration CMD = Duration.ofSeconds(120);
    /**
     * How long stopping the load may take: the writers' last fsync waits for the host, and on a busy host (a CI run)
     * that has taken more than two minutes. The guest's NVMe driver waits as long ({@link DiskBus#NVME_IO_TIMEOUT_SECONDS}),
     * so the test does too; a command really lost still shows as the driver's timeout on the console.
     */
    static final Duration STOP = Duration.ofSeconds(DiskBus.NVME_IO_TIMEOUT_SECONDS + 30);
    static final int WRITERS = 2;
    static final int READERS = 2;
    /** What a guest that lost its disk prints: block-layer errors, ext4 giving up, the NVMe driver's resets. */
    static final Pattern DISK_TROUBLE = Pattern.compile(
            "I/O error|Buffer I/O|EXT4-fs error|Remounting filesystem read-only|nvme nvme\\d+: .*(timeout|reset|Disabling)"
                    + "|soak: (read|write) failed");

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 30, unit = java.util.concurrent.TimeUnit.MINUTES)
    void virtioBlkGuestKeepsItsDiskUnderSustainedLoad() throws Exception {
        soak(DiskBus.VIRTIO);
    }

    /**
     * NVMe with bmcast's command timeout ({@link DiskBus#kernelArgs}): without it, a host that stalls a command past
     * the driver's 30 s resets the controller ({@link NvmeStallTest} shows both).
     */
    @Test
    @Timeout(value = 30, unit = java.util.concurrent.TimeUnit.MINUTES)
    void nvmeGuestKeepsItsDiskUnderSustainedLoad() throws Exception {
        soak(DiskBus.NVME);
    }

    private void soak(DiskBus bus) throws Exception {
        GuestImage guest = BusyboxGuest.image();
        Path disk = BusyboxGuest.copyDisk(guest, tmp);
        QemuSpec base = QemuSpec.forGuest(guest, new GuestDisk.Local(disk), tmp.resolve("vm")).withBus(bus, guest);
        QemuSpec spec = new QemuSpec(base.workDir(), base.disk(), bus, base.kernel(), base.initrd(),
                base.append() + " loglevel=5", base.memoryMiB(), base.accel(), base.extraArgs());
        String dev = bus.guestDevice();
        List<String> sums;
        try (Qemu vm = Qemu.start(spec)) {
            GuestConsole con = vm.console();
            con.await(guest.readyMarker(), Duration.ofSeconds(180));
            assertTrue(con.run("grep -q '^" + dev + " / ' /proc/mounts", CMD).ok(), "root on " + dev + " (found by UUID)");
            GuestConsole.Result started = con.run(loadScript(dev), CMD);
            assertTrue(started.ok(), started.output());
            long end = System.nanoTime() + SOAK.toNanos();
            while (System.nanoTime() < end) {
                Thread.sleep(Math.min(10_000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
                assertNoTrouble(con.output(), bus, "during the soak");
            }
            GuestConsole.Result stopped = con.run("touch /run/soak.stop; wait; echo writes=$(awk '$1==\"w\" {s+=$2} END {print s+0}'"
                    + " /run/soak.n) reads=$(awk '$1==\"r\" {s+=$2} END {print s+0}' /run/soak.n)", STOP);
            assertTrue(stopped.ok(), "the guest answers after " + SOAK.toSeconds() + " s of load: " + stopped.output());
            Matcher counts = Pattern.compile("writes=(\\d+) reads=(\\d+)").matcher(stopped.output());
            assertTrue(counts.find(), stopped.output());
            long writes = Long.parseLong(counts.group(1)), reads = Long.parseLong(counts.group(2));
            System.out.printf("soak on %s, %d s: %d fsync'd 1 MiB writes, %d direct 1 MiB reads%n", bus, SOAK.toSeconds(),
                    writes, reads);
            assertTrue(writes > 0 && reads > 0, "the guest did I/O: " + stopped.output());

            GuestConsole.Result verify = con.run("echo 3 > /proc/sys/vm/drop_caches; same=yes; for w in " + seq(WRITERS)
                    + "; do cmp /run/soak.last$w /root/soak$w || same=no; done; [ $same = yes ] && sha256sum /root/soak?"
                    + " && cd " + guest.dataDir() + " && sha256sum -c SHA256SUMS >/dev/null"
                    + " && echo still-writing > /root/after && sync && cat /root/after", CMD);
            assertTrue(verify.ok() && verify.output().strip().endsWith("still-writing"),
                    "each file holds its last write, read back from the disk: " + verify.output());
            sums = verify.output().lines().filter(l -> l.contains("/root/soak")).toList();
            assertEquals(WRITERS, sums.size(), verify.output());
            assertNoTrouble(con.output(), bus, "at the end");
            assertTrue(con.run("mount -o remount,ro /", CMD).ok(), "remount read-only");
            con.send("poweroff -f");
            assertEquals(0, vm.waitFor(Duration.ofSeconds(120)), "QEMU exit code after guest power-off");
        }
        Ext4Image.check(disk, guest.rootOffset());
        for (String line : sums) {
            String[] f = line.trim().split("\\s+");
            String onHost = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Ext4Image.readFile(disk, f[1])));
            assertEquals(f[0], onHost, f[1] + " on the host's copy of the disk");
        }
    }

    private static void assertNoTrouble(String console, DiskBus bus, String when) {
        Matcher m = DISK_TROUBLE.matcher(console);
        assertFalse(m.find(), () -> bus + " disk in trouble " + when + ": '" + m.group() + "' in the console:\n"
                + console.substring(Math.max(0, console.length() - 3000)));
    }

    private static String seq(int n) {
        StringBuilder s = new StringBuilder();
        for (int i = 1; i <= n; i++) s.append(i == 1 ? "" : " ").append(i);
        return s.toString();
    }

    /**
     * Starts the load in the background and returns. Writer w rewrites {@code /root/soakW} (1 MiB: its iteration
     * number, then random bytes) with {@code O_DIRECT} and fsync, and keeps the content of its last completed write
     * in {@code /run/soak.lastW} (tmpfs); reader r reads 1 MiB with {@code O_DIRECT} at random offsets across the
     * raw disk. They stop at {@code /run/soak.stop} and add their counts to {@code /run/soak.n}; a failed
     * {@code dd} prints {@code soak: read failed} / {@code write failed} on the console (written with quotes, so the
     * tty's echo of the typed command does not match).
     */
    static String loadScript(String dev) {
        String writer = "( i=0; head -c 1048576 /dev/urandom > /run/soak.rnd$w;"
                + " while [ ! -e /run/soak.stop ]; do i=$((i+1));"
                + " { printf '%08d' $i; tail -c +9 /run/soak.rnd$w; } > /run/soak.next$w;"
                + " dd if=/run/soak.next$w of=/root/soak$w bs=1M oflag=direct conv=fsync 2>/dev/null"
                + " || { echo \"soak: write\"\" failed\" > /dev/console; break; };"
                + " mv /run/soak.next$w /run/soak.last$w; done; echo w $i >> /run/soak.n ) &";
        String reader = "( i=0; while [ ! -e /run/soak.stop ]; do i=$((i+1));"
                + " dd if=" + dev + " of=/dev/null bs=1M count=1 skip=$((RANDOM % 30000)) iflag=direct 2>/dev/null"
                + " || { echo \"soak: read\"\" failed\" > /dev/console; break; }; done; echo r $i >> /run/soak.n ) &";
        return "rm -f /run/soak.*; for w in " + seq(WRITERS) + "; do " + writer + " done; for r in " + seq(READERS)
                + "; do " + reader + " done; true";
    }
}

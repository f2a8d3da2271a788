package io.bmcast.vmm;

import io.bmcast.guest.GuestCache;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * How QEMU runs guest code: KVM (hardware virtualization, what production uses) or TCG (emulation, ~10x slower
 * but works anywhere).
 *
 * <p>An openable {@code /dev/kvm} is not proof that KVM works: nested or restricted hosts expose a device on
 * which a stock kernel hangs before its first console line. So {@link #detect} boots the kernel briefly under
 * KVM and accepts it only if the kernel prints its banner. The answer is remembered per host boot (keyed by
 * {@code /proc/sys/kernel/random/boot_id}) in the cache dir, since the probe costs seconds when it fails.
 * Env {@code BMCAST_ACCEL=kvm|tcg} overrides.
 */
public enum Accel {
    KVM, TCG;

    public String qemuName() { return name().toLowerCase(Locale.ROOT); }

    private static volatile Accel detected;

    /**
     * The accelerator to use, probing with {@code kernel} (a bootable bzImage; null for the host's cloud kernel)
     * if not known yet. The probe can take seconds: call this before a deployment's clock starts (when an agent,
     * {@code instance run}, the demo or a benchmark starts), never on a deployment's path; that path asks
     * {@link #known}.
     */
    public static Accel detect(Path kernel) {
        Accel a = known();
        if (a != null) return a;
        synchronized (Accel.class) {
            a = known();
            if (a != null) return a;
            // A guest that boots itself brings no kernel to probe with: probe with the host's, so the answer
            // remembered for this host boot is not "TCG" merely for lack of a kernel.
            if (kernel == null) kernel = hostKernel();
            a = kvmOpenable() && kvmBoots(kernel) ? KVM : TCG;
            Path memo = memoFile();
            try {
                if (memo != null) {
                    Files.createDirectories(memo.getParent());
                    Files.writeString(memo, a.name() + "\n");
                }
            } catch (IOException ignored) {
                // only a cache
            }
            return detected = a;
        }
    }

    /**
     * The accelerator if it is known without a probe: forced by {@code BMCAST_ACCEL}, decided in this JVM, or
     * remembered for this host boot; null when only {@link #detect} can tell.
     */
    public static Accel known() {
        String forced = System.getenv("BMCAST_ACCEL");
        if (forced != null && !forced.isBlank()) return valueOf(forced.trim().toUpperCase(Locale.ROOT));
        Accel a = detected;
        if (a != null) return a;
        Path memo = memoFile();
        try {
            if (memo != null && Files.exists(memo)) return detected = valueOf(Files.readString(memo).trim());
        } catch (IOException | IllegalArgumentException ignored) {
            // unreadable: only a probe can tell
        }
        return null;
    }

    static boolean kvmOpenable() {
        try (RandomAccessFile f = new RandomAccessFile("/dev/kvm", "rw")) {
            return f.getFD().valid();
        } catch (IOException e) {
            return false;
        }
    }

    /** Boots {@code kernel} under KVM without a disk for up to 8 s: true if it prints its banner on ttyS0. */
    static boolean kvmBoots(Path kernel) {
        if (kernel == null || !Files.isReadable(kernel)) return false;
        Process p = null;
        try {
            p = new ProcessBuilder(Qemu.BINARY, "-accel", "kvm", "-m", "256", "-nodefaults", "-no-user-config",
                    "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel", kernel.toString(),
                    "-append", "console=ttyS0 earlyprintk=ttyS0 panic=-1").redirectErrorStream(true).start();
            p.getOutputStream().close();
            Process proc = p;
            StringBuilder seen = new StringBuilder();
            Thread t = Thread.ofVirtual().start(() -> {
                try (InputStream in = proc.getInputStream()) {
                    byte[] b = new byte[4096];
                    for (int n; (n = in.read(b)) > 0; ) {
                        synchronized (seen) {
                            seen.append(new String(b, 0, n, StandardCharsets.ISO_8859_1));
                            if (seen.indexOf("Linux version") >= 0) seen.notifyAll();
                        }
                    }
                } catch (IOException ignored) {
                    // process gone
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
            synchronized (seen) {
                while (seen.indexOf("Linux version") < 0 && System.nanoTime() < deadline && p.isAlive()) {
                    seen.wait(200);
                }
                return seen.indexOf("Linux version") >= 0;
            }
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (p != null) {
                p.destroyForcibly();
                try {
                    p.waitFor(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static Path hostKernel() {
        try {
            return io.bmcast.guest.HostKernel.find().vmlinuz();
        } catch (IOException e) {
            return null;
        }
    }

    private static Path memoFile() {
        try {
            String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
            return GuestCache.root().resolve("accel-" + boot);
        } catch (IOException e) {
            return null;
        }
    }
}

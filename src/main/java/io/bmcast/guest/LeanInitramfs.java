package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * A small initramfs for the sample guests, made by Debian's own initramfs-tools ({@code mkinitramfs}) for the host
 * kernel, with a private copy of the host's configuration: {@code MODULES=list} with only {@link #MODULES} (and
 * what they depend on) instead of the host's {@code MODULES=most}, and {@link #COMPRESS} instead of zstd.
 *
 * <p>Why (busybox guest under TCG, {@code printk.time=1} without {@code quiet}): the host's 14 MiB zstd initramfs
 * was unpacked ("Freeing initrd memory") at 2.8-4.7 s of guest time and its udev needed 3.3-4.8 s from
 * {@code /init} to the disk, loading and logging modules the guests never use; the lean 7.5 MiB lz4 one is
 * unpacked at 1.1-1.5 s and has the disk 2.1-2.2 s after {@code /init}: ready in 6.4-7.7 s against 12-14 s. With
 * {@code quiet} (the guests' command line) the kernel no longer prints those modules over the emulated serial
 * port and the difference is within this shared host's noise. It is still Debian's initramfs: same scripts, same
 * udev, same {@code root=UUID=} resolution (removing udev saves little and leaves {@code /dev} unmoved: no
 * console for init).
 *
 * <p>When {@code mkinitramfs} is missing or fails (e.g. no {@code /lib/modules} for a {@code BMCAST_KERNEL}
 * override), the host's own initrd is used instead, slower to boot but equivalent.
 */
final class LeanInitramfs {
    /** What the guests need to reach their root: the virtio PCI transport and virtio-blk, NVMe and ext4. */
    static final List<String> MODULES = List.of("virtio_pci", "virtio_blk", "nvme", "ext4");
    /** lz4 unpacks fastest of the kernel's compressors; initramfs-tools 0.142 has no uncompressed choice. */
    static final String COMPRESS = "lz4";
    static final Path HOST_CONF = Path.of("/etc/initramfs-tools");
    static final Duration TIMEOUT = Duration.ofMinutes(5);

    private LeanInitramfs() {}

    /** {@code mkinitramfs} on the PATH or in the usual sbin directories, or null. */
    static Path mkinitramfs() {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin";
        for (String d : path.split(":")) {
            if (d.isEmpty()) continue;
            Path p = Path.of(d, "mkinitramfs");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    /**
     * Writes the initramfs for {@code kernel} to {@code out}. Falls back to a copy of the host's initrd (telling
     * {@code progress} why, once) when mkinitramfs is unavailable or fails; throws only when neither works.
     */
    static void build(HostKernel kernel, Path out, Path work, Consumer<String> progress) throws IOException {
        Path tool = mkinitramfs();
        String why;
        if (tool == null) {
            why = "mkinitramfs not found (apt-get install initramfs-tools)";
        } else if (!Files.isDirectory(HOST_CONF)) {
            why = "no " + HOST_CONF;
        } else if (!Files.isDirectory(Path.of("/lib/modules", kernel.version()))
                || !Files.isReadable(HostKernel.BOOT.resolve("config-" + kernel.version()))) {
            why = "no modules or config in /lib/modules and /boot for kernel " + kernel.version();
        } else {
            progress.accept("making a lean initramfs (" + String.join(", ", MODULES) + "; " + COMPRESS + ")");
            Path conf = work.resolve("initramfs-tools");
            try {
                writeConfig(conf);
                HostCommand.run(TIMEOUT, List.of(tool.toString(), "-d", conf.toString(), "-o", out.toString(),
                        kernel.version()));
                if (Files.size(out) > 0) return;
                why = "mkinitramfs wrote an empty file";
            } catch (IOException e) {
                why = "mkinitramfs failed: " + lastLine(e.getMessage());
            } finally {
                GuestBuilder.removeTree(conf);
            }
        }
        if (kernel.initrd() == null) {
            throw new IOException("cannot make an initramfs (" + why + ") and there is none next to " + kernel.vmlinuz()
                    + " (the guests need one to find their root by UUID)");
        }
        progress.accept(why + ": using the host's " + kernel.initrd() + " (slower to boot)");
        Files.copy(kernel.initrd(), out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** A copy of the host's configuration with our module list and compression. */
    static void writeConfig(Path conf) throws IOException {
        GuestBuilder.removeTree(conf);
        Files.createDirectories(conf.getParent());
        HostCommand.run(Duration.ofMinutes(1), List.of("cp", "-a", HOST_CONF.toString(), conf.toString()));
        Path ic = conf.resolve("initramfs.conf");
        String text = Files.isRegularFile(ic) ? Files.readString(ic) : "";
        text = setting(text, "MODULES", "list");
        text = setting(text, "COMPRESS", COMPRESS);
        Files.writeString(ic, text);
        Files.writeString(conf.resolve("modules"), String.join("\n", MODULES) + "\n");
        // The host may ask for more through conf.d (e.g. MODULES=most from a package): ours must win.
        Path confd = conf.resolve("conf.d");
        Files.createDirectories(confd);
        Files.writeString(confd.resolve("zz-bmcast"), "MODULES=list\nCOMPRESS=" + COMPRESS + "\n");
    }

    /** {@code text} with the line {@code NAME=...} set to {@code value} (appended if absent). */
    static String setting(String text, String name, String value) {
        Pattern p = Pattern.compile("(?m)^" + name + "=.*$");
        if (p.matcher(text).find()) return p.matcher(text).replaceAll(name + "=" + value);
        return text + (text.isEmpty() || text.endsWith("\n") ? "" : "\n") + name + "=" + value + "\n";
    }

    private static String lastLine(String s) {
        if (s == null) return "no output";
        String[] lines = s.strip().split("\n");
        return lines[lines.length - 1].strip();
    }
}

package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The Debian cloud kernel installed on this host, booted directly by QEMU ({@code -kernel}), and its Debian
 * initramfs ({@code initrd}, from the same kernel package). The kernel has NVMe and ext4 built in but virtio-blk
 * as a module, and it cannot resolve {@code root=UUID=} by itself: the sample guests boot with the initramfs,
 * which loads the disk's driver and finds the root by UUID.
 */
public record HostKernel(Path vmlinuz, Path initrd, String version) {
    static final Path BOOT = Path.of("/boot");

    /** The newest {@code /boot/vmlinuz-*-cloud-amd64}; env {@code BMCAST_KERNEL} may name another file. */
    public static HostKernel find() throws IOException {
        String override = System.getenv("BMCAST_KERNEL");
        if (override != null && !override.isBlank()) {
            Path k = Path.of(override);
            if (!Files.isReadable(k)) throw new IOException("BMCAST_KERNEL=" + override + " is not readable");
            return new HostKernel(k, siblingInitrd(k), k.getFileName().toString().replaceFirst("^vmlinuz-", ""));
        }
        try (Stream<Path> s = Files.list(BOOT)) {
            Path k = s.filter(p -> p.getFileName().toString().matches("vmlinuz-.*-cloud-amd64"))
                    .max(Comparator.comparing(p -> p.getFileName().toString()))
                    .orElseThrow(() -> new IOException(
                            "no /boot/vmlinuz-*-cloud-amd64 found: apt-get install linux-image-cloud-amd64"));
            return new HostKernel(k, siblingInitrd(k), k.getFileName().toString().substring("vmlinuz-".length()));
        }
    }

    private static Path siblingInitrd(Path vmlinuz) {
        Path i = vmlinuz.resolveSibling(vmlinuz.getFileName().toString().replaceFirst("^vmlinuz", "initrd.img"));
        return Files.isReadable(i) ? i : null;
    }
}

package io.bmcast.vmm;

import io.bmcast.guest.GuestImage;
import java.nio.file.Path;
import java.util.List;

/**
 * What to launch: one guest, one disk. Immutable; {@code with*} methods return a changed copy.
 *
 * @param workDir   holds the QMP and console sockets and logs; keep its path short (Unix socket paths are limited
 *                  to 107 bytes)
 * @param kernel    bzImage for {@code -kernel}, or null to boot the disk's own boot loader
 * @param initrd    initramfs, or null
 * @param append    kernel command line (ignored without a kernel)
 * @param accel     null to {@linkplain Accel#detect detect}
 * @param extraArgs appended verbatim to QEMU's command line
 */
public record QemuSpec(Path workDir, GuestDisk disk, DiskBus bus, Path kernel, Path initrd, String append,
                       int memoryMiB, Accel accel, List<String> extraArgs) {
    public QemuSpec {
        extraArgs = List.copyOf(extraArgs);
        if (memoryMiB < 64) throw new IllegalArgumentException("memory below 64 MiB: " + memoryMiB);
    }

    /**
     * A built sample guest booted by QEMU's direct kernel loading (or, for a guest that boots itself, by the
     * firmware from the disk), on an NVMe disk, 512 MiB, accel detected.
     */
    public static QemuSpec forGuest(GuestImage guest, GuestDisk disk, Path workDir) {
        Path kernel = guest.kernel();
        return new QemuSpec(workDir, disk, DiskBus.NVME, kernel, null, kernel == null ? null : guest.append(), 512,
                null, List.of());
    }

    /**
     * The same guest on another bus. A virtio-blk root needs the Debian initramfs (virtio_blk is a module in the
     * cloud kernel), so {@code guest} supplies it and the {@code root=} device.
     */
    public QemuSpec withBus(DiskBus b, GuestImage guest) {
        return new QemuSpec(workDir, disk, b, kernel, b == DiskBus.VIRTIO ? guest.initrd() : null,
                kernel == null ? null : guest.append(b.guestDevice()), memoryMiB, accel, extraArgs);
    }

    public QemuSpec withDisk(GuestDisk d) {
        return new QemuSpec(workDir, d, bus, kernel, initrd, append, memoryMiB, accel, extraArgs);
    }

    public QemuSpec withAccel(Accel a) {
        return new QemuSpec(workDir, disk, bus, kernel, initrd, append, memoryMiB, a, extraArgs);
    }

    public QemuSpec withMemoryMiB(int m) {
        return new QemuSpec(workDir, disk, bus, kernel, initrd, append, m, accel, extraArgs);
    }

    public QemuSpec withExtraArgs(List<String> args) {
        return new QemuSpec(workDir, disk, bus, kernel, initrd, append, memoryMiB, accel, args);
    }
}

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
     * A built sample guest booted by QEMU's direct kernel loading with Debian's initramfs (or, for a guest that
     * boots itself, by the firmware from the disk), on the {@linkplain DiskBus#DEFAULT default} disk device, 512 MiB,
     * accel detected.
     */
    public static QemuSpec forGuest(GuestImage guest, GuestDisk disk, Path workDir) {
        return new QemuSpec(workDir, disk, DiskBus.DEFAULT, null, null, null, 512, null, List.of()).withBus(DiskBus.DEFAULT, guest);
    }

    /**
     * The same guest on another device. The guest's initramfs (which loads virtio-blk, a module in the cloud kernel,
     * and finds the root by UUID) goes with its kernel on every device; the command line is the guest's own.
     */
    public QemuSpec withBus(DiskBus b, GuestImage guest) {
        Path k = guest.kernel();
        return new QemuSpec(workDir, disk, b, k, k == null ? null : guest.initrd(),
                k == null ? null : guest.append(b.guestDevice()), memoryMiB, accel, extraArgs);
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

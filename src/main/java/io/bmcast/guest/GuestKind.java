package io.bmcast.guest;

import java.util.Locale;

/** The sample guests bmcast can build from this machine's Debian packages. */
public enum GuestKind {
    /**
     * busybox-static and a shell script as init, gives a shell on ttyS0. Under TCG it booted in about 3 s without an
     * initramfs; Debian's initramfs (udev, module loading) costs more than that again: on a loaded host here, 11-18 s
     * without it against 19-31 s with it. With the lean initramfs ({@link LeanInitramfs}) and {@code quiet}, 6-12 s
     * here, no different from the host's initramfs within this host's noise; without {@code quiet} 6.4-7.7 s against
     * 12-14 s.
     */
    BUSYBOX,
    /** debootstrap minbase bookworm with systemd: a real distribution boot, about 8-10 s under TCG. */
    DEBIAN,
    /**
     * The busybox guest as a whole disk that boots itself (MBR, syslinux on a FAT partition, ext4 root partition):
     * what users' images look like, booted by the firmware with no {@code -kernel}. See {@link BootableDisk}.
     */
    BUSYBOX_DISK,
    /**
     * The Debian guest with PostgreSQL 15, a pgbench database and fio, running a benchmark at boot that prints its
     * throughput every second: the workload of {@code bench workload}. Boots on virtio-blk with Debian's
     * initramfs. See {@link DebianDbRoot}.
     */
    DEBIAN_DB;

    public String id() { return name().toLowerCase(Locale.ROOT).replace('_', '-'); }

    /** True when the disk carries its own boot loader and kernel, so QEMU gets no {@code -kernel}. */
    public boolean bootsItself() { return this == BUSYBOX_DISK; }

    /**
     * The build recipe's revision: a cached build of an older one is rebuilt. 2: the guest powers off on the ACPI
     * power button (busybox acpid; Debian's logind, with dbus and the button modules). 3 and 4 (busybox
     * guests): the guest checks its data at boot when its command line says {@link GuestImage#SELF_CHECK_FLAG}, and
     * with {@code bmcast.selfcheck=TAG} writes a file of its own too (4: builds of a revision 3 recipe without the
     * write may be in a shared cache). 5 (busybox guests) and 3 (Debian): the root is found by file-system UUID through
     * Debian's initramfs, so the guest boots on virtio-blk (the default) as on NVMe; busybox-disk's syslinux loads
     * the initramfs too. 6 (busybox guests), 4 (Debian), 6 (debian-db; 3 to 5 were its
     * workload changes: 3, root by UUID; 4, figures every second, mawk reading the pipes interactively): a lean initramfs made at build time
     * ({@link LeanInitramfs}: few modules, lz4) instead of a copy of the host's, and {@code no_timer_check}.
     */
    public int revision() {
        return switch (this) {
            case DEBIAN -> 4;
            case DEBIAN_DB -> 6;
            case BUSYBOX, BUSYBOX_DISK -> 6;
        };
    }

    public static GuestKind parse(String s) {
        for (GuestKind k : values()) if (k.id().equals(s)) return k;
        throw new IllegalArgumentException("unknown guest kind '" + s + "' (busybox, debian, busybox-disk or debian-db)");
    }
}

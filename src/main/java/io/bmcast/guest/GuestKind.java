package io.bmcast.guest;

import java.util.Locale;

/** The sample guests bmcast can build from this machine's Debian packages. */
public enum GuestKind {
    /** busybox-static and a shell script as init: boots in about 3 s under TCG, gives a shell on ttyS0. */
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
     * write may be in a shared cache). debian-db counts on its own: 2, its console lines carry their length.
     */
    public int revision() {
        return switch (this) {
            case DEBIAN -> 2;
            case DEBIAN_DB -> 2;
            case BUSYBOX, BUSYBOX_DISK -> 4;
        };
    }

    public static GuestKind parse(String s) {
        for (GuestKind k : values()) if (k.id().equals(s)) return k;
        throw new IllegalArgumentException("unknown guest kind '" + s + "' (busybox, debian, busybox-disk or debian-db)");
    }
}

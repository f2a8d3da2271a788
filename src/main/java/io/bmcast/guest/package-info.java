/**
 * Sample guests built from this machine's Debian packages: {@code bmcast guest build busybox|debian|busybox-disk}.
 *
 * <p>Findings that shaped it:
 * <ul>
 *   <li>Debian's cloud kernel has NVMe and ext4 built in but virtio-blk (and virtio-pci) as modules. virtio-blk is
 *       the default disk (NVMe times out under sustained load in QEMU 7.2, see {@link io.bmcast.vmm.DiskBus}), so
 *       every guest boots with Debian's own initramfs for that kernel, made lean by {@code mkinitramfs} at build
 *       time ({@link io.bmcast.guest.LeanInitramfs}: MODULES=list, lz4), as {@code initrd.img} next to it (or
 *       into busybox-disk's FAT, with an {@code INITRD} line). The root is named by file-system UUID
 *       ({@code root=UUID=...}, fixed per guest kind, see {@link io.bmcast.guest.Ext4Image#uuidFor}), which the
 *       initramfs resolves, so one command line boots on virtio-blk and NVMe.</li>
 *   <li>The initramfs mounts the root and runs its {@code /sbin/init} (the busybox guest's script) with
 *       {@code /dev}, {@code /proc}, {@code /sys} and {@code /run} already mounted; the script's own mounts of them
 *       fail harmlessly. {@code rw} on the command line makes it mount the root read-write; it runs no fsck (no
 *       fsck in the cloud initramfs), so a boot reads little of the disk.</li>
 *   <li>{@code mke2fs -d} allocates every file contiguously from the start of the disk (the whole busybox guest,
 *       test data included, lies within its first ~60 MiB), so "spread" test data is many files and many
 *       regions, not far-apart offsets.</li>
 *   <li>With {@code lazy_itable_init,lazy_journal_init} the 32 GiB image has ~23 MiB allocated (busybox) and
 *       ~250 MiB (Debian minbase).</li>
 *   <li>A whole disk that boots itself ({@code busybox-disk}, {@link io.bmcast.guest.BootableDisk}) is built with no
 *       mounting either: {@code sfdisk} partitions the plain file; {@code mkfs.vfat --offset}, {@code mcopy -i
 *       disk.img@@OFFSET} and the mtools-based {@code syslinux --install --offset BYTES} work inside it;
 *       {@code mke2fs -E offset=BYTES} writes the root partition without touching the rest or the file's size; and
 *       debugfs/e2fsck read it back as {@code disk.img?offset=BYTES}.</li>
 *   <li>On a 32 GiB file {@code mkfs.vfat} picks FAT32 and then refuses a 64 MiB filesystem as too small for it:
 *       ask for FAT16 ({@code -F 16}).</li>
 *   <li>SeaBIOS boots virtio-blk and NVMe; syslinux loads the kernel and the initramfs from the FAT. The root by
 *       UUID serves virtio or NVMe here and SATA or NVMe on bare metal.</li>
 *   <li>The workload guest ({@code debian-db}, {@link io.bmcast.guest.DebianDbRoot}) gets PostgreSQL 15 and fio by a
 *       two-stage debootstrap ({@code --foreign}, then {@code --second-stage} in a chroot) with a {@code policy-rc.d}
 *       in between: a one-stage debootstrap would let PostgreSQL's maintainer scripts start the server inside the
 *       build tree. Its pgbench tables are made at build time by the tree's own PostgreSQL run in a chroot as the
 *       tree's postgres user, on a socket in the tree's {@code /tmp}, with {@code dynamic_shared_memory_type=mmap}
 *       (no {@code /dev/shm} needed), and stopped cleanly so the first boot needs no recovery.</li>
 *   <li>Under TCG on this busy host the serial console now and then repeats a character ({@code tps=334.4} for
 *       34.4): the workload guest's lines carry their own length so the bench drops a garbled one.</li>
 * </ul>
 */
package io.bmcast.guest;

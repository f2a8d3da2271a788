/**
 * Sample guests built from this machine's Debian packages: {@code bmcast guest build busybox|debian|busybox-disk}.
 *
 * <p>Findings that shaped it:
 * <ul>
 *   <li>Debian's cloud kernel has NVMe and ext4 built in but virtio-blk as a module: an NVMe root boots with no
 *       initramfs; a virtio root ({@code root=/dev/vda}) needs Debian's own initramfs, copied as
 *       {@code initrd.img} next to the kernel.</li>
 *   <li>With {@code root=} and no initramfs the kernel runs {@code /sbin/init}, not {@code /init}.</li>
 *   <li>{@code mke2fs -d} allocates every file contiguously from the start of the disk (the whole busybox guest,
 *       test data included, lies within its first ~60 MiB), so "spread" test data is many files and many
 *       regions, not far-apart offsets.</li>
 *   <li>With {@code lazy_itable_init,lazy_journal_init} the 32 GiB image has ~23 MiB allocated (busybox) and
 *       ~250 MiB (Debian minbase).</li>
 * </ul>
 */
package io.bmcast.guest;

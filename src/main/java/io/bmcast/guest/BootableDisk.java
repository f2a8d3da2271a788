package io.bmcast.guest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;

/**
 * A whole-disk image that boots through its own boot loader, like the images users bring: what BIOS firmware
 * (SeaBIOS under QEMU, the machine's own on bare metal) boots with no {@code -kernel}. Built from files with
 * host tools and no mounting, so it works unprivileged and without loop devices:
 *
 * <pre>
 *   byte 0        MBR: syslinux mbr.bin (first 440 bytes), disk signature {@link #DISK_SIGNATURE}, 2 entries
 *   1 MiB         partition 1, active, FAT16 "BMBOOT" (64 MiB): ldlinux.sys + ldlinux.c32 (syslinux), vmlinuz,
 *                 initrd.img, syslinux.cfg
 *   65 MiB        partition 2, Linux, ext4 to the end of the disk: the root tree (mke2fs -d, at an offset)
 * </pre>
 *
 * Boot chain: firmware → mbr.bin (loads the active partition's boot sector) → syslinux (ldlinux.sys, reads
 * syslinux.cfg from the FAT) → the kernel and Debian's initramfs, which loads the disk's driver (virtio-blk is a
 * module in the cloud kernel) and mounts the root named on the command line as {@code root=UUID=<ext4 UUID>}. The
 * UUID rather than {@code /dev/vda2} keeps the image bootable whatever the disk is called (virtio-blk or NVMe under
 * QEMU, SATA or NVMe on the bare-metal machine after de-virtualization).
 *
 * <p>Tools: {@code sfdisk} (fdisk), {@code mkfs.vfat} (dosfstools), {@code mcopy} (mtools), {@code syslinux}
 * (syslinux, the mtools-based installer, which writes through an offset) and {@code mbr.bin} (syslinux-common).
 */
public final class BootableDisk {
    private BootableDisk() {}

    static final long SECTOR = 512;
    /** Partition 1 starts at 1 MiB, where every partitioning tool since Vista aligns the first partition. */
    public static final long BOOT_OFFSET = 1L << 20;
    /** 64 MiB of FAT: the 14 MiB kernel, syslinux, and room for an initramfs or a second kernel. */
    public static final long BOOT_SIZE = 64L << 20;
    /** Partition 2, the ext4 root, follows the boot partition and runs to the end of the disk. */
    public static final long ROOT_OFFSET = BOOT_OFFSET + BOOT_SIZE;
    /** MBR disk signature, fixed so builds are reproducible. */
    public static final int DISK_SIGNATURE = 0x626d6373; // "bmcs"
    static final String BOOT_LABEL = "BMBOOT";
    /** Boot code in the first 440 bytes of the MBR; the signature and partition table follow it. */
    static final int MBR_CODE_SIZE = 440;
    static final List<Path> MBR_BIN_CANDIDATES = List.of(Path.of("/usr/lib/syslinux/mbr/mbr.bin"),
            Path.of("/usr/lib/SYSLINUX/mbr.bin"));

    private static final Duration TOOL = Duration.ofMinutes(5);

    /** The syslinux configuration: boot the one kernel and its initramfs at once, on the serial console too. */
    static String syslinuxConfig(String append) {
        return """
                SERIAL 0 115200
                PROMPT 0
                TIMEOUT 0
                DEFAULT linux
                LABEL linux
                  LINUX /vmlinuz
                  INITRD /initrd.img
                  APPEND %s
                """.formatted(append);
    }

    /**
     * Writes {@code image}: a sparse disk of {@code size} bytes booting {@code kernel} and {@code initrd} with
     * command line {@code append} (which should carry {@code root=UUID=} + {@code rootUuid}), the root filesystem
     * made from {@code rootDir} with that UUID.
     */
    public static void create(Path rootDir, Path kernel, Path initrd, String append, Path image, long size,
                              String rootLabel, java.util.UUID rootUuid) throws IOException {
        if (size < ROOT_OFFSET + (64L << 20)) throw new IllegalArgumentException("disk too small: " + size);
        if (size % SECTOR != 0) throw new IllegalArgumentException("disk size not a multiple of 512: " + size);
        Path mbr = MBR_BIN_CANDIDATES.stream().filter(Files::isReadable).findFirst()
                .orElseThrow(() -> new IOException("no syslinux mbr.bin: apt-get install syslinux-common"));
        Files.deleteIfExists(image);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(size); // a sparse file: all holes
        }
        partition(image);
        String img = image.toString();
        // FAT16, hidden sectors = its own start (syslinux and DOS-style loaders read them to find the partition).
        HostCommand.run(TOOL, List.of("mkfs.vfat", "-F", "16", "-n", BOOT_LABEL, "-i", "%08x".formatted(DISK_SIGNATURE),
                "-h", Long.toString(BOOT_OFFSET / SECTOR), "--offset", Long.toString(BOOT_OFFSET / SECTOR),
                img, Long.toString(BOOT_SIZE / 1024)));
        Path cfg = image.resolveSibling("syslinux.cfg");
        Files.writeString(cfg, syslinuxConfig(append));
        try {
            String fat = img + "@@" + BOOT_OFFSET;
            HostCommand.run(TOOL, List.of("mcopy", "-i", fat, kernel.toString(), "::/vmlinuz"));
            HostCommand.run(TOOL, List.of("mcopy", "-i", fat, initrd.toString(), "::/initrd.img"));
            HostCommand.run(TOOL, List.of("mcopy", "-i", fat, cfg.toString(), "::/syslinux.cfg"));
        } finally {
            Files.deleteIfExists(cfg);
        }
        // The mtools-based installer writes ldlinux.sys/.c32 into the FAT and its boot sector, at a byte offset.
        HostCommand.run(TOOL, List.of("syslinux", "--install", "--offset", Long.toString(BOOT_OFFSET), img));
        writeMbrCode(image, Files.readAllBytes(mbr));
        Ext4Image.create(rootDir, image, ROOT_OFFSET, size - ROOT_OFFSET, rootLabel, rootUuid);
    }

    /** Two primary partitions, the first active, with the fixed disk signature; sfdisk works on a plain file. */
    private static void partition(Path image) throws IOException {
        String script = """
                label: dos
                label-id: 0x%08x
                unit: sectors

                start=%d, size=%d, type=e, bootable
                start=%d, type=83
                """.formatted(DISK_SIGNATURE, BOOT_OFFSET / SECTOR, BOOT_SIZE / SECTOR, ROOT_OFFSET / SECTOR);
        Path in = image.resolveSibling("sfdisk.script");
        Files.writeString(in, script);
        try {
            HostCommand.run(TOOL, List.of("sh", "-c", "sfdisk --no-reread --no-tell-kernel -q \"$1\" < \"$2\"", "sfdisk",
                    image.toString(), in.toString()));
        } finally {
            Files.deleteIfExists(in);
        }
    }

    /** Puts the boot code in front of the partition table sfdisk wrote, leaving signature and table alone. */
    private static void writeMbrCode(Path image, byte[] code) throws IOException {
        if (code.length < MBR_CODE_SIZE) throw new IOException("mbr.bin is " + code.length + " bytes, expected 440");
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(code, 0, MBR_CODE_SIZE), 0);
        }
    }
}

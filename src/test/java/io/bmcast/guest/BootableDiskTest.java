package io.bmcast.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.util.Jackson;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The busybox-disk guest is what a firmware boots: an MBR with boot code and an active FAT partition holding
 * syslinux, the kernel and its configuration, then the busybox root as ext4 in partition 2, with the same
 * verifiable data as the busybox guest. Everything is read back with the host's own tools (sfdisk, mtools,
 * debugfs, e2fsck), as someone inspecting the image would.
 */
class BootableDiskTest {
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @Test
    @Timeout(180)
    void busyboxDiskHasAPartitionTableABootLoaderAKernelAndTheRootFilesystem() throws Exception {
        GuestImage g = new GuestBuilder(GuestKind.BUSYBOX_DISK, 0).build(tmp.resolve("bbd"));
        Path disk = g.disk();
        assertEquals(32L << 30, Files.size(disk));
        long allocated = 512 * Long.parseLong(HostCommand.run(T, List.of("stat", "--format=%b", disk.toString()))
                .output().strip());
        assertTrue(allocated < 100L << 20, "disk should be sparse, has " + allocated + " bytes allocated");
        assertNull(g.kernel(), "no separate kernel: the disk boots itself");
        assertEquals(List.of("disk.img", "guest.json"), Files.list(g.dir()).map(p -> p.getFileName().toString()).sorted().toList());
        Map<String, Object> json = Jackson.MAPPER.readValue(g.dir().resolve(GuestImage.JSON).toFile(),
                new TypeReference<Map<String, Object>>() {});
        assertTrue(json.containsKey("kernel") && json.get("kernel") == null, json.toString());
        assertEquals("syslinux", json.get("bootLoader"));
        assertEquals(BootableDisk.ROOT_OFFSET, ((Number) json.get("rootOffset")).longValue());
        assertEquals(BootableDisk.ROOT_OFFSET, g.rootOffset());

        // Partition table: p1 active FAT at 1 MiB, p2 Linux from 65 MiB to the end, the fixed disk signature.
        String table = HostCommand.run(T, List.of("sfdisk", "-d", disk.toString())).output();
        assertTrue(table.contains("label-id: 0x626d6373"), table);
        assertTrue(table.contains("start=        2048, size=      131072, type=e, bootable"), table);
        assertTrue(table.contains("start=      133120, size=    66975744, type=83"), table);
        assertTrue(g.append().contains("root=UUID=" + Ext4Image.uuidFor("busybox-disk")), g.append());

        // MBR boot code from syslinux-common in front of the table, and the 0x55AA boot signature.
        byte[] head = new byte[512];
        try (var in = Files.newInputStream(disk)) {
            assertEquals(512, in.readNBytes(head, 0, 512));
        }
        byte[] mbrBin = Files.readAllBytes(BootableDisk.MBR_BIN_CANDIDATES.stream().filter(Files::isReadable)
                .findFirst().orElseThrow());
        assertArrayEquals(Arrays.copyOf(mbrBin, 440), Arrays.copyOf(head, 440));
        assertEquals(0x55, head[510] & 0xff);
        assertEquals(0xaa, head[511] & 0xff);

        // The FAT holds syslinux, the host's kernel byte for byte, and a configuration booting it.
        String fat = disk + "@@" + BootableDisk.BOOT_OFFSET;
        String dir = HostCommand.run(T, List.of("mdir", "-a", "-b", "-i", fat, "::/")).output();
        for (String f : List.of("LDLINUX.SYS", "LDLINUX.C32", "VMLINUZ", "INITRD.IMG", "SYSLINUX.CFG")) {
            assertTrue(dir.toUpperCase().contains(f), f + " in the boot partition: " + dir);
        }
        Path kernelCopy = tmp.resolve("vmlinuz.out");
        HostCommand.run(T, List.of("mcopy", "-i", fat, "::/vmlinuz", kernelCopy.toString()));
        assertArrayEquals(Files.readAllBytes(HostKernel.find().vmlinuz()), Files.readAllBytes(kernelCopy));
        String cfg = HostCommand.run(T, List.of("mtype", "-i", fat, "::/syslinux.cfg")).output();
        assertTrue(cfg.contains("LINUX /vmlinuz") && cfg.contains("INITRD /initrd.img") && cfg.contains("APPEND " + g.append()), cfg);
        Path initrdCopy = tmp.resolve("initrd.out");
        HostCommand.run(T, List.of("mcopy", "-i", fat, "::/initrd.img", initrdCopy.toString()));
        // The lean initramfs made for the guest (lz4, with virtio-blk), not the host's.
        assertArrayEquals(new byte[] {0x02, 0x21, 0x4c, 0x18}, Arrays.copyOf(Files.readAllBytes(initrdCopy), 4));
        assertTrue(HostCommand.run(T, List.of("lsinitramfs", initrdCopy.toString())).output().contains("/virtio_blk.ko"));
        // The root partition carries the UUID the command line names.
        String super_ = HostCommand.run(T, List.of("dumpe2fs", "-h", Ext4Image.device(disk, g.rootOffset()))).output();
        assertTrue(super_.contains("Filesystem UUID:          " + Ext4Image.uuidFor("busybox-disk")), super_);

        // The root filesystem in partition 2: clean, with the busybox init and the same test data.
        Ext4Image.check(disk, g.rootOffset());
        byte[] data = Ext4Image.readFile(disk, g.rootOffset(), "/data/data-03.bin");
        assertEquals(g.checksums().get("data-03.bin"), HexFormat.of().formatHex(TestData.sha256().digest(data)));
        String sums = new String(Ext4Image.readFile(disk, g.rootOffset(), "/data/SHA256SUMS"));
        assertTrue(sums.contains(g.checksums().get("data-08.bin") + "  data-08.bin"), sums);
        assertTrue(new String(Ext4Image.readFile(disk, g.rootOffset(), "/sbin/init")).contains(GuestImage.READY_MARKER));

        // Same checksums as the kernel-booted busybox guest: the data is the same, only the disk layout differs.
        assertEquals(8, g.checksums().size());
    }
}

package io.bmcast.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class LeanInitramfsTest {
    @TempDir
    Path tmp;

    /** Debian's mkinitramfs, run with our configuration, gives an lz4 initramfs with the disk drivers and little else. */
    @Test
    @Timeout(300)
    void mkinitramfsMakesAnLz4InitramfsWithJustTheDiskDrivers() throws Exception {
        HostKernel kernel = HostKernel.find();
        Path out = tmp.resolve("initrd.img");
        List<String> steps = new ArrayList<>();
        LeanInitramfs.build(kernel, out, tmp, steps::add);
        assertTrue(steps.size() == 1 && steps.getFirst().startsWith("making a lean initramfs"),
                "built by mkinitramfs, no fallback: " + steps);
        byte[] magic = new byte[4];
        try (InputStream in = Files.newInputStream(out)) {
            assertEquals(4, in.readNBytes(magic, 0, 4));
        }
        assertArrayEquals(new byte[] {0x02, 0x21, 0x4c, 0x18}, magic, "lz4 (legacy frame, as the kernel unpacks it)");
        String files = HostCommand.run(Duration.ofMinutes(1), List.of("lsinitramfs", out.toString())).output();
        for (String ko : List.of("/virtio_blk.ko", "/virtio_pci.ko", "/virtio_ring.ko")) {
            assertTrue(files.contains(ko), ko + " is in it");
        }
        for (String ko : List.of("/ata_piix.ko", "/libata.ko", "/scsi_mod.ko", "/e1000.ko")) {
            assertFalse(files.contains(ko), ko + " is not: MODULES=list");
        }
        assertTrue(files.contains("scripts/local") && files.contains("blkid"), "still Debian's initramfs, resolving root=UUID=");
        assertFalse(Files.exists(tmp.resolve("initramfs-tools")), "the private configuration is removed");
        if (kernel.initrd() != null) {
            assertTrue(Files.size(out) < Files.size(kernel.initrd()), Files.size(out) + " bytes, the host's: "
                    + Files.size(kernel.initrd()));
        }
    }

    /** No modules for the kernel, so no mkinitramfs: the host's initrd is used, and the build says so. */
    @Test
    @Timeout(120)
    void aFailingMkinitramfsFallsBackToTheHostsInitrd() throws Exception {
        HostKernel host = HostKernel.find();
        org.junit.jupiter.api.Assumptions.assumeTrue(host.initrd() != null, "the host has an initrd");
        HostKernel odd = new HostKernel(host.vmlinuz(), host.initrd(), "0.0.0-no-such-kernel");
        Path out = tmp.resolve("initrd.img");
        List<String> steps = new ArrayList<>();
        LeanInitramfs.build(odd, out, tmp, steps::add);
        assertEquals(1, steps.size(), steps.toString());
        String said = steps.getFirst();
        assertTrue(said.startsWith("no modules or config in /lib/modules and /boot for kernel 0.0.0-no-such-kernel:"
                + " using the host's ") && said.endsWith("(slower to boot)"), said);
        assertArrayEquals(Files.readAllBytes(host.initrd()), Files.readAllBytes(out));

        HostKernel none = new HostKernel(host.vmlinuz(), null, "0.0.0-no-such-kernel");
        var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> LeanInitramfs.build(none, tmp.resolve("other.img"), tmp, s -> {}));
        assertTrue(e.getMessage().startsWith("cannot make an initramfs (no modules or config"), e.getMessage());
    }

    @Test
    void settingReplacesOrAppendsALine() {
        assertEquals("# MODULES=dep\nMODULES=list\nBUSYBOX=auto\n",
                LeanInitramfs.setting("# MODULES=dep\nMODULES=most\nBUSYBOX=auto\n", "MODULES", "list"));
        assertEquals("BUSYBOX=auto\nCOMPRESS=lz4\n", LeanInitramfs.setting("BUSYBOX=auto", "COMPRESS", "lz4"));
    }
}

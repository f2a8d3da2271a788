package io.bmcast.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class GuestBuilderTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(120)
    void busyboxGuestIsASparse32GiBExt4DiskWithVerifiableDataAndIsReused() throws Exception {
        Path out = tmp.resolve("bb");
        java.util.List<String> steps = new java.util.ArrayList<>();
        GuestImage g = new GuestBuilder(GuestKind.BUSYBOX, 3 << 20).build(out, steps::add);
        assertTrue(steps.contains("writing 3.0 MiB of application data")
                && steps.contains("making the 32.0 GiB sparse disk image (ext4)"), "a long build says what it does: " + steps);
        assertEquals(32L << 30, Files.size(g.disk()));
        long allocated = 512 * Long.parseLong(HostCommand.run(java.time.Duration.ofSeconds(10),
                java.util.List.of("stat", "--format=%b", g.disk().toString())).output().strip());
        assertTrue(allocated < 200L << 20, "disk should be sparse, has " + allocated + " bytes allocated");
        assertTrue(Files.size(g.kernel()) > 1 << 20);
        // The root by UUID, the same command line on every device; Debian's initramfs resolves it.
        String root = "root=UUID=" + Ext4Image.uuidFor("busybox");
        assertTrue(g.append().contains(root) && g.append("/dev/vda").equals(g.append()), g.append());
        assertTrue(Files.size(g.initrd()) > 1 << 20, "Debian's initramfs is part of the guest");
        assertTrue(steps.stream().anyMatch(s -> s.startsWith("making a lean initramfs")), "made for the guest: " + steps);
        assertTrue(g.append().contains(" no_timer_check"), g.append());
        String super_ = HostCommand.run(java.time.Duration.ofSeconds(10), java.util.List.of("dumpe2fs", "-h", g.disk().toString())).output();
        assertTrue(super_.contains("Filesystem UUID:          " + Ext4Image.uuidFor("busybox")), super_);
        assertEquals(8, g.checksums().size());

        byte[] data = Ext4Image.readFile(g.disk(), "/data/data-03.bin");
        assertEquals(2 << 20, data.length);
        assertEquals(g.checksums().get("data-03.bin"), HexFormat.of().formatHex(TestData.sha256().digest(data)));
        String sums = new String(Ext4Image.readFile(g.disk(), "/data/SHA256SUMS"));
        assertTrue(sums.contains(g.checksums().get("data-08.bin") + "  data-08.bin"), sums);
        byte[] app = Ext4Image.readFile(g.disk(), g.appData());
        assertEquals(3 << 20, app.length);
        assertEquals(g.appDataSha256(), HexFormat.of().formatHex(TestData.sha256().digest(app)));
        assertNotNull(Ext4Image.readFile(g.disk(), "/sbin/init"));

        long mtime = Files.getLastModifiedTime(g.disk()).toMillis();
        GuestImage again = new GuestBuilder(GuestKind.BUSYBOX, 3 << 20).build(out);
        assertEquals(g, again);
        assertEquals(mtime, Files.getLastModifiedTime(again.disk()).toMillis(), "a finished build is reused");
        assertThrows(IOException.class, () -> new GuestBuilder(GuestKind.BUSYBOX, 0).build(out));
        assertThrows(IOException.class, () -> Ext4Image.readFile(g.disk(), "/no/such/file"));
    }

    @Test
    void testDataIsReproducible() throws Exception {
        var a = TestData.writeFiles(tmp.resolve("a"), 2, 100_003, 7);
        var b = TestData.writeFiles(tmp.resolve("b"), 2, 100_003, 7);
        assertEquals(a, b);
        assertArrayEquals(Files.readAllBytes(tmp.resolve("a/data-02.bin")), Files.readAllBytes(tmp.resolve("b/data-02.bin")));
    }
}

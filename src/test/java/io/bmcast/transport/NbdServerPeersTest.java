package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Our server against the real NBD clients: qemu-img, qemu-io, nbdinfo, nbdcopy, fio. */
@Timeout(180)
class NbdServerPeersTest {
    private static final Duration T = Duration.ofSeconds(60);
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void qemuImgSeesSizeComparesAndConverts() throws Exception {
        Tools.assume("qemu-img");
        Path img = TestFiles.random(dir.resolve("disk.img"), 24 * MiB + 4096, 1);
        try (TestServer s = TestServer.on(dir).file("disk", img, false).start()) {
            String info = Tools.run(T, "qemu-img", "info", "--output=json", s.uri("disk")).requireSuccess("qemu-img info").stdout();
            assertTrue(info.contains("\"virtual-size\": " + (24 * MiB + 4096)), info);
            Tools.run(T, "qemu-img", "compare", "-f", "raw", "-F", "raw", img.toString(), s.uri("disk"))
                    .requireSuccess("qemu-img compare");
            Path out = dir.resolve("out.img");
            Tools.run(T, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.uri("disk"), out.toString())
                    .requireSuccess("qemu-img convert");
            assertTrue(TestFiles.sameContent(img, out));
        }
    }

    @Test
    void qemuImgOverTcp() throws Exception {
        Tools.assume("qemu-img");
        Path img = TestFiles.random(dir.resolve("disk.img"), 8 * MiB, 2);
        try (TestServer s = TestServer.on(dir).file("disk", img, false).tcp().start()) {
            assertTrue(s.uri("disk").startsWith("nbd://"));
            Tools.run(T, "qemu-img", "compare", "-f", "raw", "-F", "raw", img.toString(), s.uri("disk"))
                    .requireSuccess("qemu-img compare over TCP");
        }
    }

    @Test
    void qemuIoWritesAndReadsBackPatterns() throws Exception {
        Tools.assume("qemu-io");
        Path img = TestFiles.random(dir.resolve("rw.img"), 16 * MiB, 3);
        try (TestServer s = TestServer.on(dir).file("rw", img, true).start()) {
            String uri = s.uri("rw");
            Tools.run(T, "qemu-io", "-f", "raw", "-c", "write -P 0xab 1M 3M", "-c", "write -P 0x5c 12345 777",
                    "-c", "write -z 8M 1M", "-c", "discard 10M 1M", "-c", "flush", uri).requireSuccess("qemu-io write");
            var r = Tools.run(T, "qemu-io", "-f", "raw", "-c", "read -P 0xab 1M 3M", "-c", "read -P 0x5c 12345 777",
                    "-c", "read -P 0 8M 1M", "-c", "read -P 0 10M 1M", uri).requireSuccess("qemu-io read");
            assertFalse(r.stdout().contains("Pattern verification failed"), r.stdout());
            byte[] file = Files.readAllBytes(img);
            assertEquals((byte) 0xab, file[(int) (2 * MiB)]);
            assertEquals((byte) 0x5c, file[12345 + 776]);
            assertEquals(0, file[(int) (8 * MiB + 5)]);
        }
    }

    @Test
    void nbdinfoListsExportsWithDescriptions() throws Exception {
        Tools.assume("nbdinfo");
        Path a = TestFiles.random(dir.resolve("a.img"), MiB, 4);
        Path b = TestFiles.random(dir.resolve("b.img"), 2 * MiB, 5);
        try (TestServer s = TestServer.on(dir).file("alpha", a, false).file("beta", b, true).start()) {
            String out = Tools.run(T, "nbdinfo", "--list", "nbd+unix:///?socket=" + s.socket())
                    .requireSuccess("nbdinfo --list").stdout();
            assertTrue(out.contains("export=\"alpha\""), out);
            assertTrue(out.contains("export=\"beta\""), out);
            assertTrue(out.contains("description: test file a.img"), out);
            assertTrue(out.contains("description: test file b.img"), out);
            assertTrue(out.contains("export-size: 2097152"), out);
        }
    }

    @Test
    void nbdinfoMapShowsHolesAndData() throws Exception {
        Tools.assume("nbdinfo");
        Path img = TestFiles.sparse(dir.resolve("sparse.img"), 32 * MiB, 6, 4 * MiB, MiB, 20 * MiB, 2 * MiB);
        try (TestServer s = TestServer.on(dir).file("sparse", img, false).start()) {
            String out = Tools.run(T, "nbdinfo", "--map", s.uri("sparse")).requireSuccess("nbdinfo --map").stdout();
            List<String> rows = out.lines().map(l -> l.trim().replaceAll("\\s+", " ")).toList();
            assertEquals(List.of(
                    "0 4194304 3 hole,zero",
                    "4194304 1048576 0 data",
                    "5242880 15728640 3 hole,zero",
                    "20971520 2097152 0 data",
                    "23068672 10485760 3 hole,zero"), rows);
        }
    }

    @Test
    void nbdcopyBothWaysWithFourConnections() throws Exception {
        Tools.assume("nbdcopy");
        Path src = TestFiles.sparse(dir.resolve("src.img"), 48 * MiB, 7, 0, 8 * MiB, 16 * MiB, 4 * MiB, 40 * MiB, 8 * MiB);
        Path target = dir.resolve("target.img");
        try (var f = new java.io.RandomAccessFile(target.toFile(), "rw")) {
            f.setLength(48 * MiB);
        }
        Path other = TestFiles.random(dir.resolve("other.img"), 48 * MiB, 8);
        try (TestServer s = TestServer.on(dir).file("src", src, false).file("target", target, true).start()) {
            Path local = dir.resolve("local.img");
            Tools.run(T, "nbdcopy", "--connections=4", "--requests=16", s.uri("src"), local.toString())
                    .requireSuccess("nbdcopy export -> file");
            assertTrue(TestFiles.sameContent(src, local));
            Tools.run(T, "nbdcopy", "--connections=4", other.toString(), s.uri("target"))
                    .requireSuccess("nbdcopy file -> export");
            assertTrue(TestFiles.sameContent(other, target));
            // A sparse copy into the writable export punches or zeroes what is a hole in the source.
            Tools.run(T, "nbdcopy", "--connections=4", src.toString(), s.uri("target"))
                    .requireSuccess("nbdcopy sparse file -> export");
            assertTrue(TestFiles.sameContent(src, target));
        }
    }

    @Test
    void fioVerifiesWritesWithFourJobs() throws Exception {
        Tools.assume("fio");
        Path img = TestFiles.random(dir.resolve("fio.img"), 64 * MiB, 9);
        try (TestServer s = TestServer.on(dir).file("fio", img, true).start()) {
            String uri = "nbd+unix:///fio?socket=" + s.socket();
            var r = Tools.run(T, "fio", "--name=verify", "--ioengine=nbd", "--uri=" + uri, "--rw=randwrite",
                    "--bs=4k,64k", "--bsrange=4k-256k", "--iodepth=16", "--numjobs=4", "--size=16M", "--offset_increment=16M",
                    "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0", "--group_reporting");
            r.requireSuccess("fio verify");
            assertFalse(r.stdout().contains("verify:") && r.stdout().contains("bad"), r.stdout());
        }
    }
}

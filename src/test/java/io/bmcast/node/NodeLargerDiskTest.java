package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A machine whose disk is twice the image, as bare-metal clouds have them: {@code bmcast node} serves the whole
 * disk to real NBD clients (nbdsh, qemu-io), streams only the image's part, and keeps what the tenant wrote past
 * the image, flushed or not, across a {@code kill -9} of the mediator.
 */
class NodeLargerDiskTest {
    private static final long MIB = 1L << 20;
    private static final long IMAGE = 32 * MIB;
    private static final long DISK = 64 * MIB;
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @Test
    @Timeout(240)
    void theWholeDiskIsServedAndOnlyTheImageStreams() throws Exception {
        Tools.assume("nbdsh", "qemu-io");
        // 3 MiB of data, the last MiB right before the image's end (so the region at the boundary has data).
        Path image = TestFiles.sparse(tmp.resolve("image.raw"), IMAGE, 21, 0, MIB, 16 * MIB, MIB, IMAGE - MIB, MIB);
        Path disk = tmp.resolve("disk.img");
        try (RandomAccessFile r = new RandomAccessFile(disk.toFile(), "rw")) {
            r.setLength(DISK); // the machine's disk, scrubbed: zeros
        }
        Path state = tmp.resolve("state");
        try (NodeFixture f = NodeFixture.serving(Map.of("img", image), "200Mbit")) {
            Path sock = f.procs.path("node.sock");
            String nbd = NbdUri.unix(sock, "").toString();
            String qemu = "nbd+unix:///?socket=" + sock;
            ClientTestProcesses.Server node = f.startNode(f.uri("img"), disk, state, sock, "--hydrate-rate", "1M");

            // The guest's view: the whole disk; across the boundary, the image's bytes and then the disk's zeros.
            Tools.Result view = Tools.nbdsh(T, nbd, """
                    import hashlib
                    print(h.get_size())
                    b = h.pread(%d, %d)
                    print(hashlib.sha256(b[:65536]).hexdigest())
                    print(b[65536:] == bytes(65536))
                    """.formatted(128 << 10, IMAGE - (64 << 10)));
            assertEquals(0, view.exitCode(), view.stderr());
            String[] lines = view.stdout().strip().split("\n");
            assertEquals(Long.toString(DISK), lines[0], "the size the guest sees");
            assertEquals(sha256(image, IMAGE - (64 << 10), 64 << 10), lines[1], "the image's last region");
            assertEquals("True", lines[2], "past the image: the disk's own zeros");

            // Writes across the boundary and past the image (qemu-io flushes as it closes).
            qemuIo(qemu, "write -P 0x5a " + (IMAGE - 4096) + " 8k", "write -P 0xa5 " + 48 * MIB + " 1M",
                    "read -P 0x5a " + (IMAGE - 4096) + " 8k", "read -P 0xa5 " + 48 * MIB + " 1M");

            Map<String, Object> hydrated = NodeFixture.awaitPhase(state, "hydrated", T);
            assertEquals(DISK, NodeFixture.number(hydrated, "sizeBytes"), hydrated.toString());
            assertEquals(IMAGE, NodeFixture.number(hydrated, "imageSizeBytes"), hydrated.toString());
            assertEquals(IMAGE / (64 << 10), NodeFixture.number(hydrated, "regionsTotal"), hydrated.toString());
            assertEquals(3 * MIB, f.bytesServed(), "the image's data crossed the link, once; its holes and the rest"
                    + " of the disk never: " + hydrated);

            // An unflushed write past the image, then the mediator dies: the page cache keeps it.
            Tools.Result unflushed = Tools.nbdsh(T, nbd, "h.pwrite(b'\\x3c' * 65536, %d)".formatted(60 * MIB));
            assertEquals(0, unflushed.exitCode(), unflushed.stderr());
            f.procs.kill9(node);
            node = f.startNode(f.uri("img"), disk, state, sock);
            qemuIo(qemu, "read -P 0x5a " + (IMAGE - 4096) + " 8k", "read -P 0xa5 " + 48 * MIB + " 1M",
                    "read -P 0x3c " + 60 * MIB + " 64k", "read -P 0 " + 49 * MIB + " 11M");
            assertEquals(0, f.procs.stop(node));
            assertEquals(3 * MIB, f.bytesServed(), "the restarted mediator fetched nothing again");

            // On the disk itself, as the machine boots it after de-virtualization.
            qemuIo(disk.toString(), "read -P 0x5a " + (IMAGE - 4096) + " 8k", "read -P 0xa5 " + 48 * MIB + " 1M",
                    "read -P 0x3c " + 60 * MIB + " 64k");
            assertEquals(sha256(image, 0, (int) (IMAGE - 4096)), sha256(disk, 0, (int) (IMAGE - 4096)),
                    "the image's part of the local disk");

            // The state dir belongs to a 64 MiB disk: the same disk grown is refused, naming both sizes.
            try (RandomAccessFile r = new RandomAccessFile(disk.toFile(), "rw")) {
                r.setLength(DISK + MIB);
            }
            Tools.Result grown = NodeFixture.bmcast(NodeFixture.args(f.uri("img"), disk, state, sock));
            assertTrue(grown.exitCode() != 0 && grown.stderr().contains(DISK + " bytes")
                    && grown.stderr().contains((DISK + MIB) + " bytes"), grown.stderr());
        }
    }

    private static void qemuIo(String target, String... commands) {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("qemu-io", "-f", "raw"));
        for (String c : commands) cmd.addAll(java.util.List.of("-c", c));
        cmd.add(target);
        Tools.Result r = Tools.run(T, cmd).requireSuccess("qemu-io " + String.join("; ", commands));
        assertTrue(!r.stdout().contains("Pattern verification failed"), r.stdout());
    }

    private static String sha256(Path file, long offset, int length) throws Exception {
        byte[] b = new byte[length];
        try (RandomAccessFile r = new RandomAccessFile(file.toFile(), "r")) {
            r.seek(offset);
            r.readFully(b);
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}

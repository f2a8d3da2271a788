package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mediator restarted while the image server is down (both crashed, or the server is being upgraded)
 * serves the regions it already has at once; only reads of missing regions wait, fail with EIO after the
 * give-up time, and work again once the image server is back.
 */
class NodeResumeWithoutImageServerTest {
    private static final long MIB = 1L << 20;
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @Test
    @Timeout(180)
    void restartedNodeServesLocalRegionsWhileTheImageServerIsAway() throws Exception {
        Tools.assume("nbdsh");
        Path image = TestFiles.random(tmp.resolve("image.raw"), 32 * MIB, 17);
        Path images = Files.createDirectories(tmp.resolve("images"));
        Files.createSymbolicLink(images.resolve("image.img"), image);
        Path disk = tmp.resolve("disk.img");
        Path state = tmp.resolve("state");
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path imageSock = procs.path("image.sock");
            Path nodeSock = procs.path("node.sock");
            ClientTestProcesses.Server imageServer = procs.bmcastOn(imageSock, "image-server", "--dir", images.toString(),
                    "--socket", imageSock.toString());
            // A slow background copy: the regions read below stay absent unless read.
            String[] nodeArgs = NodeFixture.args(NbdUri.unix(imageSock, "image"), disk, state, nodeSock,
                    "--hydrate-rate", "64KiB/s", "--give-up", "3s").toArray(String[]::new);
            String nodeUri = NbdUri.unix(nodeSock, "").toString();

            ClientTestProcesses.Server node = procs.bmcastOn(nodeSock, nodeArgs);
            assertEquals(sha256(image, 0, 64 * 1024), readSha(nodeUri, 0), "first region through the node");
            assertEquals(0, procs.stop(node));

            procs.kill9(imageServer);
            node = procs.bmcastOn(nodeSock, nodeArgs); // must come up with no image server
            assertEquals(sha256(image, 0, 64 * 1024), readSha(nodeUri, 0), "a local region, image server away");
            Tools.Result missing = Tools.nbdsh(T, nodeUri, """
                    try:
                        h.pread(65536, 24 << 20)
                        print("READ")
                    except nbd.Error as e:
                        print("ERRNO", e.errnum)
                    """);
            assertEquals("ERRNO 5", missing.stdout().strip(), "a missing region fails with EIO: " + missing.stderr());

            procs.restart(imageServer);
            assertEquals(sha256(image, 24 * MIB, 64 * 1024), readSha(nodeUri, 24 * MIB), "missing region once the server is back");
            assertEquals(0, procs.stop(node));
        }
    }

    private static String readSha(String uri, long offset) {
        Tools.Result r = Tools.nbdsh(T, uri, "import hashlib; print(hashlib.sha256(h.pread(65536, " + offset + ")).hexdigest())");
        assertTrue(r.exitCode() == 0, "nbdsh read at " + offset + ": " + r.stderr());
        return r.stdout().strip();
    }

    private static String sha256(Path file, long offset, int length) throws Exception {
        byte[] all = Files.readAllBytes(file);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(all, (int) offset, length);
        return HexFormat.of().formatHex(md.digest());
    }
}

package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestCerts;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole streamed deployment over TLS: {@code bmcast image-server --tls-dir} and a {@code bmcast node} whose
 * image is {@code nbds+unix://}, each a process of its own; a guest-side reader (qemu-img) on the node's socket
 * while the disk streams; the local disk ends equal to the image. A node without credentials, or trusting
 * another CA, is refused in one line and fetches nothing.
 */
class NodeTlsTest {
    private static final long MIB = 1L << 20;

    @TempDir
    Path tmp;

    @Test
    @Timeout(240)
    void aNodeStreamsItsImageOverTls() throws Exception {
        Tools.assume("qemu-img");
        Path certs = TestCerts.make(tmp.resolve("pki"));
        Path other = TestCerts.make(tmp.resolve("other-pki"));
        Path images = Files.createDirectories(tmp.resolve("images"));
        Path image = TestFiles.sparse(images.resolve("img.raw"), 24 * MIB, 9, 0, 3 * MIB, 12 * MIB, 2 * MIB);
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path imageSock = procs.path("images.sock");
            procs.bmcastOn(imageSock, "image-server", "--dir", images.toString(), "--socket", imageSock.toString(),
                    "--tls-dir", certs.toString(), "--tls-verify-peer");
            NbdUri uri = NbdUri.parse("nbds+unix:///img?socket=" + imageSock);

            Tools.Result none = NodeFixture.bmcast(NodeFixture.args(uri, tmp.resolve("d0.img"), tmp.resolve("s0"), procs.path("n0.sock")));
            assertEquals(2, none.exitCode(), none.stderr());
            assertTrue(none.stderr().contains("--tls-dir") && none.stderr().strip().lines().count() == 1, none.stderr());

            Tools.Result wrong = NodeFixture.bmcast(NodeFixture.args(uri, tmp.resolve("d1.img"), tmp.resolve("s1"),
                    procs.path("n1.sock"), "--tls-dir", other.toString()));
            assertEquals(1, wrong.exitCode(), wrong.stderr());
            assertTrue(wrong.stderr().contains("not signed by our CA") && wrong.stderr().strip().lines().count() == 1, wrong.stderr());
            assertFalse(Files.exists(tmp.resolve("d1.img")) && Files.size(tmp.resolve("d1.img")) > 0, "nothing fetched");
            System.out.println("refused: " + none.stderr().strip() + "\nrefused: " + wrong.stderr().strip());

            Path sock = procs.path("node.sock");
            Path disk = tmp.resolve("disk.img");
            Path state = tmp.resolve("state");
            ClientTestProcesses.Server node = procs.bmcastOn(sock, NodeFixture.args(uri, disk, state, sock,
                    "--tls-dir", certs.toString(), "--hydrate-rate", "200Mbit").toArray(String[]::new));
            // The guest's view while the disk streams: the node serves the image's bytes.
            Tools.run(Duration.ofSeconds(90), "qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(),
                    "nbd+unix:///disk?socket=" + sock).requireSuccess("qemu-img compare through the node");
            NodeFixture.awaitPhase(state, "hydrated", Duration.ofSeconds(120));
            assertEquals(0, procs.stop(node));
            assertTrue(TestFiles.sameContent(image, disk), "the local disk holds the image");
        }
    }
}

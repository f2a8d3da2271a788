package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.mediator.ImageExtents;
import io.bmcast.storage.FileExport;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cached metadata (Swift Birth): a mediator given the image's extent map by the control plane
 * ({@code node --source-extents FILE}) asks the image server for no block status at all, moves only the data, and
 * ends with the image's bytes; a map of another image's size is refused.
 */
class NodeSourceExtentsTest {
    private static final long MIB = 1L << 20;
    private static final long IMAGE = 32 * MIB;

    @TempDir
    Path tmp;

    @Test
    @Timeout(180)
    void aTrustedExtentMapReplacesBlockStatus() throws Exception {
        Path image = TestFiles.sparse(tmp.resolve("image.raw"), IMAGE, 5, 0, MIB, 8 * MIB, 2 * MIB);
        // What the control plane caches, in the file format it hands to the agent.
        Path map = Files.writeString(tmp.resolve("extents.json"),
                "{\"size\": " + IMAGE + ", \"extents\": [[0, " + MIB + "], [" + 8 * MIB + ", " + 2 * MIB + "]]}\n");
        try (FileExport file = new FileExport("image", "image", image, true)) {
            ImageExtents scanned = ImageExtents.scan(file);
            assertEquals(IMAGE, scanned.size());
            assertArrayEquals(ImageExtents.read(map).extents(), scanned.extents(), "scan() finds what the file says");
        }

        try (NodeFixture f = NodeFixture.serving(Map.of("img", image), null)) {
            Path sock = f.procs.path("node.sock");
            Path disk = tmp.resolve("disk.img");
            Path state = tmp.resolve("state");
            ClientTestProcesses.Server node = f.startNode(f.uri("img"), disk, state, sock, "--source-extents", map.toString());
            NodeFixture.awaitPhase(state, "hydrated", Duration.ofSeconds(60));
            assertEquals(0, f.procs.stop(node));
            assertEquals(0, f.blockStatusCalls(), "the cached map stood in for block status");
            assertEquals(3 * MIB, f.bytesServed(), "only the data moved");
            assertTrue(TestFiles.sameContent(image, disk), "the local disk holds the image");

            // Without the map the mediator asks the image server itself.
            node = f.startNode(f.uri("img"), tmp.resolve("disk2.img"), tmp.resolve("state2"), sock);
            NodeFixture.awaitPhase(tmp.resolve("state2"), "hydrated", Duration.ofSeconds(60));
            assertEquals(0, f.procs.stop(node));
            assertTrue(f.blockStatusCalls() > 0, "no map: block status queries");

            // A map of another size belongs to another image: refused before anything is fetched.
            Path other = Files.writeString(tmp.resolve("other.json"), "{\"size\": " + (IMAGE + MIB) + ", \"extents\": []}");
            Tools.Result r = NodeFixture.bmcast(NodeFixture.args(f.uri("img"), tmp.resolve("disk3.img"),
                    tmp.resolve("state3"), sock, "--source-extents", other.toString()));
            assertTrue(r.exitCode() != 0 && r.stderr().contains(other.toString())
                    && r.stderr().contains((IMAGE + MIB) + " bytes") && r.stderr().contains(IMAGE + " bytes"), r.stderr());
            Path broken = Files.writeString(tmp.resolve("broken.json"), "{\"size\": " + IMAGE + ", \"extents\": [[5, -1]]}");
            Tools.Result b = NodeFixture.bmcast(NodeFixture.args(f.uri("img"), tmp.resolve("disk4.img"),
                    tmp.resolve("state4"), sock, "--source-extents", broken.toString()));
            assertTrue(b.exitCode() != 0 && b.stderr().contains("broken.json") && b.stderr().lines().count() == 1,
                    b.stderr());
            System.out.println("refused: " + r.stderr().strip() + "\nrefused: " + b.stderr().strip());
        }
    }
}

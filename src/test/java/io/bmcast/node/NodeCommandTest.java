package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast node} and {@code bmcast node status} as an operator meets them: the status JSON, and the clear
 * refusals for a state dir of another image, a local disk of the wrong size and an image server that is not
 * there.
 */
class NodeCommandTest {
    static final long MIB = 1L << 20;

    @TempDir
    Path tmp;

    @Test
    @Timeout(240)
    void statusJsonAndClearRefusals() throws Exception {
        Path alpha = TestFiles.sparse(tmp.resolve("alpha.raw"), 64 * MIB, 1, 0, 2 * MIB, 32 * MIB, MIB);
        Path beta = TestFiles.sparse(tmp.resolve("beta.raw"), 32 * MIB, 2, 0, MIB);
        try (NodeFixture f = NodeFixture.serving(Map.of("alpha", alpha, "beta", beta), null)) {
            Path disk = tmp.resolve("alpha-disk.img");
            Path state = tmp.resolve("alpha-state");
            Path sock = f.procs.path("node.sock");
            ClientTestProcesses.Server node = f.startNode(f.uri("alpha"), disk, state, sock);
            NodeFixture.awaitPhase(state, "hydrated", Duration.ofSeconds(60));

            Map<String, Object> s = NodeFixture.nodeStatus(state);
            assertEquals("hydrated", s.get("phase"), s.toString());
            assertEquals(1024L, NodeFixture.number(s, "regionsTotal"), "64 MiB in 64 KiB regions: " + s);
            assertEquals(1024L, NodeFixture.number(s, "regionsPresent"), s.toString());
            long moved = NodeFixture.number(s, "bytesOnDemand") + NodeFixture.number(s, "bytesBackground");
            assertTrue(moved >= 3 * MIB && moved < 64 * MIB, "the data moved, the holes not: " + s);
            assertEquals(node.process().pid(), NodeFixture.number(s, "mediatorPid"), s.toString());

            assertEquals(0, f.procs.stop(node), "node's exit code after SIGTERM");
            Map<String, Object> stopped = NodeFixture.nodeStatus(state);
            assertNull(stopped.get("mediatorPid"), "no mediator runs: " + stopped);
            assertEquals("hydrated", stopped.get("phase"), stopped.toString());

            // The same state dir for another image: refused before the local disk is touched.
            long diskBytes = Files.size(disk);
            Tools.Result other = NodeFixture.bmcast(NodeFixture.args(f.uri("beta"), disk, state, sock));
            assertRefused(other, "belongs to image", "'alpha'", "'beta'", "'beta' of " + 32 * MIB + " bytes");
            assertTrue(!other.stderr().contains("'beta' of " + 64 * MIB), "beta given alpha's size: " + other.stderr());
            assertEquals(diskBytes, Files.size(disk), "the other image's node resized the local disk");

            // A local disk of the wrong size, with a fresh state dir.
            Path small = tmp.resolve("small.img");
            try (RandomAccessFile r = new RandomAccessFile(small.toFile(), "rw")) {
                r.setLength(10 * MIB);
            }
            Tools.Result wrongSize = NodeFixture.bmcast(NodeFixture.args(f.uri("alpha"), small, tmp.resolve("s2"), sock));
            assertRefused(wrongSize, "local disk", small.toString(), String.valueOf(10 * MIB), String.valueOf(64 * MIB));

            // An image server that is not there.
            NbdUri nowhere = NbdUri.unix(f.procs.path("no-such.sock"), "alpha");
            Tools.Result unreachable = NodeFixture.bmcast(NodeFixture.args(nowhere, tmp.resolve("d3.img"),
                    tmp.resolve("s3"), sock, "--give-up", "9s"));
            assertRefused(unreachable, "cannot reach the image server", "no-such.sock", "gave up after");
            assertTrue(unreachable.stderr().contains("; retrying (0 s of 9 s)")
                    && unreachable.stderr().contains("; retrying (5 s of 9 s)"), "progress while retrying: " + unreachable.stderr());

            // An image server that answers but has no such image: refused at once, not waited for.
            Tools.Result noImage = NodeFixture.bmcast(NodeFixture.args(f.uri("gamma"), tmp.resolve("d4.img"),
                    tmp.resolve("s4"), sock));
            assertRefused(noImage, "refused", "gamma");

            Tools.Result noState = NodeFixture.bmcast(java.util.List.of("node", "status", "--state", tmp.resolve("none").toString()));
            assertRefused(noState, "no state dir");
            Path empty = Files.createDirectories(tmp.resolve("empty"));
            Tools.Result emptyState = NodeFixture.bmcast(java.util.List.of("node", "status", "--state", empty.toString()));
            assertRefused(emptyState, "no mediator state", empty.toString());
            assertEquals(1, emptyState.exitCode(), "a state dir without state is a failure, not a usage error");
        }
    }

    /** Exit code non-zero, and stderr names what is wrong. */
    private static void assertRefused(Tools.Result r, String... mentions) {
        String why = "exit " + r.exitCode() + "\nstdout:\n" + r.stdout() + "\nstderr:\n" + r.stderr();
        assertTrue(r.exitCode() != 0, "expected a refusal: " + why);
        for (String m : mentions) assertTrue(r.stderr().contains(m), "the message should mention " + m + ": " + why);
        System.out.println("refused: " + r.stderr().strip());
    }
}

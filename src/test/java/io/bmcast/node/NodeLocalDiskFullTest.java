package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast node} on a local disk too small for the image (a tmpfs the test mounts): refused before streaming
 * unless {@code --allow-low-space}; then the copy stalls with the reason in its status, a client's write gets
 * ENOSPC (qemu-io, a real NBD client, as QEMU sees it), and after the file system grows the deployment completes
 * with the disk equal to the image plus the write.
 */
@Timeout(240)
class NodeLocalDiskFullTest {
    private static final long MIB = 1L << 20;
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path tmp;
    Path mnt;

    @BeforeEach
    void mount() throws Exception {
        Tools.assume("mount", "umount", "qemu-io");
        mnt = Files.createDirectories(tmp.resolve("mnt"));
        Tools.Result r = Tools.run(Duration.ofSeconds(20), "mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt.toString());
        assumeTrue(r.exitCode() == 0, "cannot mount a tmpfs here (needs root): " + r.stderr().strip());
    }

    @AfterEach
    void unmount() {
        if (mnt != null) Tools.run(Duration.ofSeconds(20), "umount", "-l", mnt.toString());
    }

    @Test
    void aFullLocalDiskStallsTheCopyGivesEnospcAndRecovers() throws Exception {
        Path image = TestFiles.random(tmp.resolve("img.raw"), 32 * MIB, 7);
        try (NodeFixture f = NodeFixture.serving(Map.of("img", image), null)) {
            Path disk = mnt.resolve("disk.img");
            Path state = tmp.resolve("state");
            Path sock = f.procs.path("node.sock");

            Tools.Result refused = NodeFixture.bmcast(NodeFixture.args(f.uri("img"), disk, state, sock));
            assertEquals(1, refused.exitCode(), refused.stderr());
            for (String m : List.of(disk.toString(), "free", "32.0 MiB", "--allow-low-space")) {
                assertTrue(refused.stderr().contains(m), "the refusal should mention " + m + ": " + refused.stderr());
            }

            // The same state dir: the refusal streamed nothing, so it does not count as a deployment under way.
            Tools.Result again = NodeFixture.bmcast(NodeFixture.args(f.uri("img"), disk, state, sock));
            assertEquals(1, again.exitCode(), again.stderr());
            ClientTestProcesses.Server node = f.startNode(f.uri("img"), disk, state, sock, "--allow-low-space");
            Map<String, Object> stalled = NodeFixture.awaitPhase(state, "stalled", T);
            String why = String.valueOf(stalled.get("lastError"));
            assertTrue(why.contains("local disk full") && why.contains(disk.toString()), why);
            assertEquals(0L, NodeFixture.number(stalled, "sourceErrors"), "not an image server failure: " + stalled);

            String uri = NbdUri.unix(sock, Mediator.EXPORT).toString();
            Tools.Result full = Tools.run(T, "qemu-io", "-f", "raw", uri, "-c", "write -P 0x5a 24M 1M");
            assertTrue((full.stdout() + full.stderr()).contains("No space left on device"),
                    "qemu-io's write should fail with ENOSPC:\n" + full.stdout() + full.stderr());

            Tools.run(T, "mount", "-o", "remount,size=64m", mnt.toString()).requireSuccess("remount");
            Tools.run(T, "qemu-io", "-f", "raw", uri, "-c", "write -P 0x5a 24M 1M").requireSuccess("qemu-io write");
            NodeFixture.awaitPhase(state, "hydrated", Duration.ofSeconds(120));
            assertEquals(0, f.procs.stop(node), "node's exit code after SIGTERM");

            byte[] expect = Files.readAllBytes(image);
            Arrays.fill(expect, (int) (24 * MIB), (int) (25 * MIB), (byte) 0x5a);
            assertArrayEquals(expect, Files.readAllBytes(disk), "the disk is the image plus the write");
        }
    }
}

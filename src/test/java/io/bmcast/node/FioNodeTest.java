package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * fio's nbd engine writes with {@code verify=crc32c} to the real {@code bmcast node} while it is still hydrating
 * from a rate-limited image server: partial writes to regions not yet local (fetch first), whole-region writes
 * (no fetch), and the hydrator racing both. fio's verify passes; after hydration fio's data is still there (the
 * background copy never overwrote a written region); a mediator killed with SIGKILL mid-hydration loses none of fio's
 * acknowledged writes and resumes where it was; and a node restarted on the hydrated state fetches nothing again.
 */
class FioNodeTest {
    static final long IMAGE = 256L << 20;
    static final long MIB = 1L << 20;

    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void fioVerifiesAgainstHydratingNodeAndItsDataSurvivesHydrationAndRestart() throws Exception {
        Tools.assume("fio");
        // 48 MiB of data in four spread ranges, the rest holes: 24 s of background copy at 16 Mbit/s.
        Path image = TestFiles.sparse(tmp.resolve("image.raw"), IMAGE, 11, 0, 12 * MIB, 64 * MIB, 12 * MIB,
                128 * MIB, 12 * MIB, 240 * MIB, 12 * MIB);
        Path disk = tmp.resolve("local.img");
        Path state = tmp.resolve("state");
        try (NodeFixture f = NodeFixture.serving(Map.of("img", image), "200Mbit")) {
            Path sock = f.procs.path("node.sock");
            ClientTestProcesses.Server node = f.startNode(f.uri("img"), disk, state, sock, "--hydrate-rate", "16Mbit");
            NbdUri nodeUri = NbdUri.unix(sock, Mediator.EXPORT);

            Tools.Result write = fio(nodeUri, false);
            assertEquals(0, write.exitCode(), "fio randwrite + verify against the hydrating node:\n" + write.stdout() + write.stderr());
            Map<String, Object> afterFio = NodeFixture.freshStatus(state);
            assertEquals("streaming", afterFio.get("phase"), "fio must run while the node hydrates: " + afterFio);
            assertTrue(NodeFixture.number(afterFio, "bytesOnDemand") > 0, "partial writes fetched nothing: " + afterFio);

            // A mediator crash mid-hydration: fio's writes were acknowledged (never flushed) and must all survive.
            f.procs.kill9(node);
            node = f.startNode(f.uri("img"), disk, state, sock, "--hydrate-rate", "16Mbit");
            Tools.Result afterKill = fio(nodeUri, true);
            assertEquals(0, afterKill.exitCode(), "fio verify after kill -9 and restart:\n" + afterKill.stdout() + afterKill.stderr());

            NodeFixture.awaitPhase(state, "hydrated", Duration.ofSeconds(150));
            Map<String, Object> hydrated = NodeFixture.nodeStatus(state);
            assertEquals("hydrated", hydrated.get("phase"), hydrated.toString());
            assertEquals(NodeFixture.number(hydrated, "regionsTotal"), NodeFixture.number(hydrated, "regionsPresent"));
            // The restarted node resumed: it fetched at most what was missing (plus the one batch that may have
            // been in flight at the kill), never the regions already local. Holes are never transferred.
            long fetched = NodeFixture.number(afterFio, "bytesOnDemand") + NodeFixture.number(afterFio, "bytesBackground")
                    + NodeFixture.number(hydrated, "bytesOnDemand") + NodeFixture.number(hydrated, "bytesBackground");
            assertTrue(fetched <= 52 * MIB, "fetched " + fetched + " bytes of a 48 MiB image: before the kill "
                    + afterFio + ", after " + hydrated);
            System.out.printf("fetched %d bytes in all (before the kill: %s; after: %s)%n", fetched, afterFio, hydrated);
            Tools.Result control = fio(f.uri("img"), true);
            assertTrue(control.exitCode() != 0, "fio --verify_only must fail on the image fio never wrote (the"
                    + " control that shows verify_only checks anything):\n" + control.stdout());
            Tools.Result verify = fio(nodeUri, true);
            assertEquals(0, verify.exitCode(), "fio verify after hydration:\n" + verify.stdout() + verify.stderr());

            assertEquals(0, f.procs.stop(node), "node's exit code after SIGTERM");
            node = f.startNode(f.uri("img"), disk, state, sock, "--hydrate-rate", "16Mbit");
            Tools.Result again = fio(nodeUri, true);
            assertEquals(0, again.exitCode(), "fio verify after the node's restart:\n" + again.stdout() + again.stderr());
            Map<String, Object> resumed = NodeFixture.freshStatus(state);
            assertEquals("hydrated", resumed.get("phase"), resumed.toString());
            assertEquals(0, NodeFixture.number(resumed, "bytesOnDemand"), "re-fetched on demand: " + resumed);
            assertEquals(0, NodeFixture.number(resumed, "bytesBackground"), "re-copied in the background: " + resumed);
            assertEquals(node.process().pid(), NodeFixture.number(NodeFixture.nodeStatus(state), "mediatorPid"));
        }
    }

    /**
     * Random writes of 4 KiB to 128 KiB over the whole 256 MiB (regions are 64 KiB: both partial and whole-region
     * writes), 40 MiB in all, each block checked with crc32c; or, with {@code verifyOnly}, the same sequence
     * replayed as reads and checked.
     */
    static Tools.Result fio(NbdUri uri, boolean verifyOnly) {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=mediated", "--ioengine=nbd", "--uri=" + uri,
                "--rw=randwrite", "--bsrange=4k-128k", "--size=" + IMAGE, "--io_size=40m", "--iodepth=8",
                "--verify=crc32c", "--verify_fatal=1", "--randseed=4242", "--verify_state_save=0",
                "--output-format=terse"));
        if (verifyOnly) cmd.add("--verify_only");
        return Tools.run(Duration.ofSeconds(150), cmd);
    }
}

package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that never pauses its I/O (fio's nbd engine, two jobs at queue depth 1: one rewriting the first 4 MiB with
 * a known pattern, one reading it at random) against the real {@code bmcast node}, whose image comes through a
 * 100 Mbit/s link. The background copy only ever ran while the guest was idle, so such a client kept the disk from
 * completing for good. Now the disk completes while fio still runs, and holds the image plus fio's writes; with a
 * deadline it completes in time even when the minimum share alone would take several times as long.
 */
class HydrationUnderLoadTest {
    private static final long MIB = 1L << 20;
    private static final long HOT = 4 * MIB;
    private static final byte PATTERN = (byte) 0xb3;

    @TempDir
    Path tmp;

    @Test
    @Timeout(240)
    void aClientThatNeverPausesStillLetsTheDiskBecomeLocal() throws Exception {
        Tools.assume("fio");
        Path image = TestFiles.random(tmp.resolve("image.raw"), 32 * MIB, 71);
        try (NodeFixture f = NodeFixture.serving(Map.of("img", image), "100Mbit")) {
            Path disk = tmp.resolve("disk.img"), state = tmp.resolve("state"), sock = f.procs.path("node.sock");
            ClientTestProcesses.Server node = f.startNode(f.uri("img"), disk, state, sock);
            Process fio = busyClient(NbdUri.unix(sock, Mediator.EXPORT));
            try {
                Map<String, Object> hydrated = NodeFixture.awaitPhase(state, "hydrated", Duration.ofSeconds(180));
                assertTrue(fio.isAlive(), "the disk must complete under load, not after fio stopped: " + fio.info());
                assertEquals(0.2, ((Number) hydrated.get("hydrateShare")).doubleValue(), 1e-9, hydrated.toString());
                assertTrue(NodeFixture.number(hydrated, "bytesBackground") > 16 * MIB, "copied in the background: " + hydrated);
                // A loaded machine deschedules fio for milliseconds at a time, and the copy uses those gaps as idle time
                // (here: most of it, on two cores shared by a dozen processes); what only the share explains is data
                // copied while fio's requests were in flight. The deadline test below needs the share for most of it.
                assertTrue(NodeFixture.number(hydrated, "bytesBackgroundWhileBusy") > 0,
                        "copied while the client was busy: " + hydrated);
                System.out.println("hydrated under a busy client: " + hydrated);
            } finally {
                stop(fio);
            }
            assertEquals(0, f.procs.stop(node));
            assertLocalDiskIsImagePlusWrites(image, disk);
        }
    }

    @Test
    @Timeout(240)
    void aDeadlineIsMetThatTheMinimumShareAloneWouldMissAndARestartDoesNotMoveIt() throws Exception {
        Tools.assume("fio");
        Path image = TestFiles.random(tmp.resolve("image.raw"), 64 * MIB, 72);
        try (NodeFixture f = NodeFixture.serving(Map.of("img", image), "100Mbit")) {
            Path disk = tmp.resolve("disk.img"), state = tmp.resolve("state"), sock = f.procs.path("node.sock");
            // 64 MiB at 100 Mbit/s is ~5.4 s of link; a share of 5% alone would take ~110 s under a busy client.
            String[] opts = {"--hydrate-share", "0.05", "--hydrate-by", "25s"};
            long firstStart = System.nanoTime();
            ClientTestProcesses.Server node = f.startNode(f.uri("img"), disk, state, sock,
                    "--hydrate-share", "0.05", "--hydrate-by", "25s", "--hydrate-rate", "4Mbit");
            Object deadline = NodeFixture.freshStatus(state).get("hydrateBy");
            assertNotNull(deadline, "status.json shows the deadline");
            assertEquals(0, f.procs.stop(node));
            node = f.startNode(f.uri("img"), disk, state, sock, opts);
            Map<String, Object> restarted = NodeFixture.freshStatus(state);
            assertEquals(deadline, restarted.get("hydrateBy"), "a restarted mediator keeps the first start's deadline");

            Process fio = busyClient(NbdUri.unix(sock, Mediator.EXPORT));
            double highestShare = 0;
            Map<String, Object> s;
            try {
                long giveUp = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (true) {
                    s = NodeState.readStatus(state);
                    if (s != null && s.get("hydrateShare") != null) {
                        highestShare = Math.max(highestShare, ((Number) s.get("hydrateShare")).doubleValue());
                    }
                    if (s != null && "hydrated".equals(s.get("phase"))) break;
                    assertTrue(System.nanoTime() < giveUp, "not local 60 s after the first start (deadline 25 s): " + s);
                    Thread.sleep(100);
                }
                assertTrue(fio.isAlive(), "fio kept the guest busy throughout");
            } finally {
                stop(fio);
            }
            double took = (System.nanoTime() - firstStart) / 1e9;
            System.out.printf("local %.1f s after the first start (deadline 25 s), share rose to %.2f: %s%n", took,
                    highestShare, s);
            assertTrue(highestShare > 0.05, "the deadline raised the share: " + highestShare);
            assertTrue(NodeFixture.number(s, "bytesBackgroundWhileBusy") >= 8 * MIB, "copied while the client was busy: " + s);
            assertEquals(0, f.procs.stop(node));
            assertLocalDiskIsImagePlusWrites(image, disk);
        }
    }

    /**
     * fio: sequential pattern writes over the first 4 MiB, each followed by a flush (a database's commits), and random
     * reads of it four at a time: no pause, until stopped.
     */
    private Process busyClient(NbdUri uri) throws IOException {
        List<String> cmd = List.of("fio", "--ioengine=nbd", "--uri=" + uri, "--time_based", "--runtime=200",
                "--iodepth=1", "--size=" + HOT, "--output-format=terse",
                "--name=writer", "--rw=write", "--bs=16k", "--fsync=1", "--buffer_pattern=0x" + Integer.toHexString(PATTERN & 0xff),
                "--name=reader", "--rw=randread", "--bs=4k", "--iodepth=4");
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("fio.log").toFile()).start();
    }

    private void stop(Process fio) throws Exception {
        fio.destroy();
        if (!fio.waitFor(20, TimeUnit.SECONDS)) fio.destroyForcibly().waitFor();
    }

    /** The local disk: fio's pattern over the first 4 MiB (fio wrote all of it by now), the image elsewhere. */
    private static void assertLocalDiskIsImagePlusWrites(Path image, Path disk) throws IOException {
        byte[] want = Files.readAllBytes(image);
        java.util.Arrays.fill(want, 0, (int) HOT, PATTERN);
        byte[] got = Files.readAllBytes(disk);
        assertEquals(want.length, got.length);
        int first = java.util.Arrays.mismatch(want, got);
        assertEquals(-1, first, "the local disk differs from the image plus fio's writes at byte " + first);
    }
}

package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.util.Jackson;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench fanout} at tiny scale against a real S3 server: N=1 and N=3 simulated nodes (real mediated disks and
 * hydrators, real peer servers over loopback HTTP), peers on and off. Checks the accounting, never the timing.
 */
class FanoutBenchTest {
    static final int CHUNK = 256 << 10;
    @TempDir static Path dir;
    static Path image;
    static Path trace;
    static Path untimedTrace;

    /**
     * 24 chunks: 10 of data (random and compressible), the rest holes; the boot reads 4 of them, in pieces, over 0.6 s
     * (timed, BMCPROF2) and the same reads untimed (BMCPROF1).
     */
    @BeforeAll
    static void image() throws Exception {
        image = dir.resolve("image.img");
        SplittableRandom r = new SplittableRandom(13);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.truncate(24L * CHUNK);
            for (int c : new int[] {0, 1, 2, 3, 5, 8, 9, 13, 17, 23}) {
                byte[] b = new byte[CHUNK];
                if (c % 2 == 0) r.nextBytes(b);
                else for (int i = 0; i < b.length; i++) b[i] = (byte) (i % 7 == 0 ? c : 'a');
                ch.write(ByteBuffer.wrap(b), (long) c * CHUNK);
            }
        }
        List<long[]> reads = new ArrayList<>();
        List<long[]> untimed = new ArrayList<>();
        long at = 0;
        for (int c : new int[] {0, 9, 3, 17}) {
            reads.add(new long[] {(long) c * CHUNK, 4096, at});
            reads.add(new long[] {(long) c * CHUNK + 65536, 65536, at + 1});
            at += 200;
        }
        for (long[] read : reads) untimed.add(new long[] {read[0], read[1]});
        trace = BootTrace.write(dir.resolve("trace.profile"), reads);
        untimedTrace = BootTrace.write(dir.resolve("untimed.profile"), untimed);
    }

    private static JsonNode run(String name, List<Integer> nodes, List<Boolean> peers, double corrupt) throws Exception {
        return run(name, nodes, peers, corrupt, FanoutBench.Pace.RECORDED, trace);
    }

    private static JsonNode run(String name, List<Integer> nodes, List<Boolean> peers, double corrupt, FanoutBench.Pace pace,
            Path traceFile) throws Exception {
        Path out = dir.resolve(name);
        FanoutBench.Options o = new FanoutBench.Options(nodes, peers, 1_000_000_000L / 8, 10_000_000_000L / 8, 1_000_000, 1, out,
                corrupt, 2, 4, CHUNK, Duration.ofMinutes(2), pace);
        Path work = Files.createDirectories(dir.resolve(name + "-work"));
        assertEquals(0, FanoutBench.run(o, image, BootTrace.load(traceFile, false), "test image", work));
        assertTrue(Files.isRegularFile(out.resolve("fanout-egress.png")));
        assertTrue(Files.isRegularFile(out.resolve("fanout-ready.png")));
        assertTrue(Files.isRegularFile(out.resolve("fanout-stall.png")));
        return Jackson.MAPPER.readTree(out.resolve("results.json").toFile());
    }

    private static Map<String, JsonNode> runs(JsonNode doc) {
        Map<String, JsonNode> m = new HashMap<>();
        for (JsonNode mode : doc.get("modes")) m.put(mode.get("mode").asText(), mode.get("runs").get(0));
        return m;
    }

    @Test
    void peersCutTheStoreEgressAndEveryChunkIsVerified() throws Exception {
        JsonNode doc = run("plain", List.of(1, 3), List.of(true, false), 0);
        long workingSet = doc.get("workingSetBytes").asLong();
        long stored = doc.get("storedBytes").asLong();
        assertTrue(workingSet > 0 && workingSet < stored, workingSet + " of " + stored);
        Map<String, JsonNode> runs = runs(doc);
        assertEquals(4, runs.size());
        for (JsonNode r : runs.values()) {
            assertTrue(r.get("error").isNull(), r.toString());
            int n = r.get("nodes").asInt();
            assertEquals(n, r.get("disksEqual").asInt(), "every disk equals the image: " + r);
            assertEquals(0, r.get("rejected").asLong());
            // Every node verified every data chunk it kept: 10 per node, none twice (in-flight fetches are joined).
            assertEquals(10L * n, r.get("verified").asLong(), r.toString());
        }
        JsonNode on = runs.get("N=3 peers"), off = runs.get("N=3 store only");
        // Without peers each node pulls the whole image from the store; with peers the store sends it about once.
        assertEquals(3 * stored, off.get("storeBytes").asLong());
        assertEquals(0, off.get("peerBytes").asLong());
        assertTrue(on.get("storeBytes").asLong() < off.get("storeBytes").asLong(), on + " vs " + off);
        assertEquals(stored, on.get("storeBytes").asLong(), "each chunk left the store once: " + on);
        assertEquals(2 * stored, on.get("peerBytes").asLong(), on.toString());
        assertEquals(stored, runs.get("N=1 peers").get("storeBytes").asLong());
    }

    @Test
    void corruptChunksFromTheStoreAndPeersAreRejectedAndTheDisksStillEqualTheImage() throws Exception {
        JsonNode doc = run("corrupt", List.of(3), List.of(true), 0.3);
        JsonNode r = runs(doc).get("N=3 peers");
        assertTrue(r.get("error").isNull(), r.toString());
        assertTrue(r.get("rejected").asLong() > 0, r.toString());
        assertEquals(3, r.get("disksEqual").asInt());
    }

    /**
     * Paced, a node's replay keeps the guest's own time between reads, so it is never ready before the boot's recorded
     * 0.6 s, and its stall is ready less those 0.6 s. Back to back (--pace none, also an untimed BMCPROF1 trace),
     * stall is all of ready. Bounds that hold by construction, not timings.
     */
    @Test
    void aPacedReplayTakesAtLeastTheRecordedBootAndItsStallIsReadyLessTheBoot() throws Exception {
        BootTrace t = BootTrace.load(trace, false);
        assertTrue(t.timed());
        assertEquals(0.601, t.durationSeconds(), 1e-9);
        JsonNode paced = run("paced", List.of(2), List.of(true), 0);
        assertEquals("recorded", paced.get("pace").asText());
        assertEquals(0.601, paced.get("traceSeconds").asDouble(), 1e-9);
        JsonNode mode = paced.get("modes").get(0);
        JsonNode r = mode.get("runs").get(0);
        assertTrue(r.get("p50Ready").asDouble() >= 0.601, r.toString());
        assertEquals(r.get("p50Ready").asDouble() - 0.601, r.get("p50Stall").asDouble(), 1e-6, r.toString());
        assertEquals(r.get("p99Ready").asDouble() - 0.601, r.get("p99Stall").asDouble(), 1e-6, r.toString());
        assertEquals(r.get("p99Stall").asDouble(), mode.get("p99StallSeconds").get("median").asDouble(), 1e-9);
        String table = Files.readString(dir.resolve("paced").resolve("table.txt"));
        assertTrue(table.contains("stall p99 s") && table.contains("pace recorded"), table);
        assertTrue(table.contains("simulated nodes share this machine's"), table);

        JsonNode stress = run("stress", List.of(2), List.of(true), 0, FanoutBench.Pace.NONE, untimedTrace);
        assertEquals("none", stress.get("pace").asText());
        JsonNode s = stress.get("modes").get(0).get("runs").get(0);
        assertEquals(s.get("p99Ready").asDouble(), s.get("p99Stall").asDouble(), 1e-9, s.toString());

        // An untimed trace cannot be replayed at its pace: one clear failure, not a back-to-back run called a boot.
        Path out = dir.resolve("untimed");
        FanoutBench.Options o = new FanoutBench.Options(List.of(1), List.of(true), 1_000_000_000L / 8, 10_000_000_000L / 8,
                1_000_000, 1, out, 0, 2, 4, CHUNK, Duration.ofMinutes(2), FanoutBench.Pace.RECORDED);
        assertEquals(1, FanoutBench.run(o, image, BootTrace.load(untimedTrace, false), "test image",
                Files.createDirectories(dir.resolve("untimed-work"))));
        assertTrue(Files.readString(out.resolve("table.txt")).contains("records no times"));
    }
}

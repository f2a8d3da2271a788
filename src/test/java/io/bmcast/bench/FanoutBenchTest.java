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

    /** 24 chunks: 10 of data (random and compressible), the rest holes; the boot reads 4 of them, in pieces. */
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
        for (int c : new int[] {0, 9, 3, 17}) {
            reads.add(new long[] {(long) c * CHUNK, 4096});
            reads.add(new long[] {(long) c * CHUNK + 65536, 65536});
        }
        trace = BootTrace.write(dir.resolve("trace.profile"), reads);
    }

    private static JsonNode run(String name, List<Integer> nodes, List<Boolean> peers, double corrupt) throws Exception {
        Path out = dir.resolve(name);
        FanoutBench.Options o = new FanoutBench.Options(nodes, peers, 1_000_000_000L / 8, 10_000_000_000L / 8, 1_000_000, 1, out,
                corrupt, 2, 4, CHUNK, Duration.ofMinutes(2));
        Path work = Files.createDirectories(dir.resolve(name + "-work"));
        assertEquals(0, FanoutBench.run(o, image, BootTrace.load(trace, false), "test image", work));
        assertTrue(Files.isRegularFile(out.resolve("fanout-egress.png")));
        assertTrue(Files.isRegularFile(out.resolve("fanout-ready.png")));
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
}

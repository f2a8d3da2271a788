package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.agent.Peering;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TestImages;
import io.bmcast.testing.ClientTestProcesses;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Peers for real (issue 13, item 3): real mediator processes ({@code bmcast node}) streaming an image from S3Proxy,
 * and the agent's own peer server ({@link Peering}) lending one node's chunk cache to the next over loopback HTTP,
 * with the peers file the agent writes. A second node takes its bytes from the first, every chunk verified; a peer
 * that lies is dropped and the disk is still the image; a peer that goes away mid-deployment costs only a fallback
 * to the store; a small cache stays under its cap.
 */
class PeerFetchTest {
    static final int CHUNK = 1 << 20;
    static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);
    static final Duration WAIT = Duration.ofSeconds(120);
    static final String TOKEN = "bmp_test-fleet";
    @TempDir static Path dir;
    static LocalS3 s3;
    static StoreLocation img;
    static byte[] image;
    static Manifest manifest;
    /** Node A: deployed from the store alone; its cache then holds the whole image. */
    static Path workA;

    @BeforeAll
    static void start() throws Exception {
        s3 = LocalS3.start(dir.resolve("s3"));
        LocalS3.useLocalCredentials();
        img = s3.location("images", "fleet/peers");
        image = TestImages.mixed(24, CHUNK, 11);
        try (StoreClient c = StoreClient.open(img)) {
            manifest = TestImages.push(c, img, image, CHUNK);
        }
        workA = Files.createDirectories(dir.resolve("a"));
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Map<String, Object> s = deploy(procs, workA, null);
            assertEquals(manifest.storedBytes(), NodeFixture.number(s, "bytesFromStore"), "the first node: all from the store " + s);
        }
    }

    @AfterAll
    static void stop() {
        if (s3 != null) s3.close();
    }

    @Test
    @Timeout(300)
    void theNextNodeTakesItsBytesFromThePeerAndVerifiesEveryChunk() throws Exception {
        try (Peering a = Peering.open(workA, 1L << 30, LOOPBACK, null, null, null, 0);
             ClientTestProcesses procs = new ClientTestProcesses()) {
            a.token(TOKEN);
            Path workB = Files.createDirectories(dir.resolve("b"));
            Map<String, Object> s = deploy(procs, workB, List.of(a.peerUrl()));
            assertEquals(manifest.storedBytes(), NodeFixture.number(s, "bytesFromPeers"), "every byte from the peer: " + s);
            assertEquals(0, NodeFixture.number(s, "bytesFromStore"), s.toString());
            assertEquals(dataChunks(), NodeFixture.number(s, "chunksVerified"), "every chunk verified: " + s);
            assertEquals(0, NodeFixture.number(s, "chunksRejected"), s.toString());
            assertEquals(dataChunks(), a.server().chunksServed());
            assertArrayEquals(image, Files.readAllBytes(workB.resolve("disk.img")), "the disk is the image");
            assertEquals(manifest.storedBytes(), cacheBytes(Peering.cacheDir(workB)), "what B verified it keeps, to serve in turn");

            // A node whose cache is smaller than the image: least recently used chunks go, the cap holds.
            Path workC = Files.createDirectories(dir.resolve("c"));
            deploy(procs, workC, List.of(a.peerUrl()), "--cache-size", "4M");
            assertTrue(cacheBytes(Peering.cacheDir(workC)) <= 4L << 20, "cache over its 4 MiB cap: " + cacheBytes(Peering.cacheDir(workC)));
            assertArrayEquals(image, Files.readAllBytes(workC.resolve("disk.img")));
        }
    }

    @Test
    @Timeout(300)
    void aPeerServingCorruptChunksIsDroppedAndTheDiskIsStillExact() throws Exception {
        try (Peering liar = Peering.open(workA, 1L << 30, LOOPBACK, null, null, null, 1.0);
             ClientTestProcesses procs = new ClientTestProcesses()) {
            liar.token(TOKEN);
            Path work = Files.createDirectories(dir.resolve("fooled"));
            Map<String, Object> s = deploy(procs, work, List.of(liar.peerUrl()));
            assertTrue(NodeFixture.number(s, "chunksRejected") >= 1, "the liar's chunks refused: " + s);
            assertTrue(liar.server().chunksServed() < dataChunks(), "dropped after its first bad chunks, not asked for all: "
                    + liar.server().chunksServed());
            assertEquals(dataChunks(), NodeFixture.number(s, "chunksVerified"), s.toString());
            assertEquals(0, NodeFixture.number(s, "bytesFromPeers"), "nothing of the liar's used: " + s);
            assertEquals(manifest.storedBytes(), NodeFixture.number(s, "bytesFromStore"), s.toString());
            assertArrayEquals(image, Files.readAllBytes(work.resolve("disk.img")), "the disk is the image");
            assertTrue(Files.readString(procs.dir().resolve("server-1.log")).contains("dropped"), "the drop is logged");
        }
    }

    @Test
    @Timeout(300)
    void aPeerThatDisappearsMidDeploymentFallsBackToTheStore() throws Exception {
        Path work = Files.createDirectories(dir.resolve("orphan"));
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Peering gone = Peering.open(workA, 1L << 30, LOOPBACK, null, null, null, 0);
            gone.token(TOKEN);
            // the background copy held to 16 Mbit/s, so the peer's going away falls in the middle
            ClientTestProcesses.Server node = start(procs, work, List.of(gone.peerUrl()), "--hydrate-rate", "16Mbit");
            Path state = work.resolve("state");
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (gone.server().chunksServed() < 2) {
                if (System.nanoTime() > deadline) fail("the peer was never asked: " + NodeState.readStatus(state));
                Thread.sleep(50);
            }
            gone.close();
            NodeFixture.awaitPhase(state, "hydrated", WAIT);
            Map<String, Object> s = NodeFixture.freshStatus(state);
            assertTrue(NodeFixture.number(s, "bytesFromPeers") > 0, s.toString());
            assertTrue(NodeFixture.number(s, "bytesFromStore") > 0, "the rest from the store: " + s);
            assertEquals(dataChunks(), NodeFixture.number(s, "chunksVerified"), s.toString());
            assertEquals(0, procs.stop(node));
            assertArrayEquals(image, Files.readAllBytes(work.resolve("disk.img")), "the disk is the image");
        }
    }

    /** Runs a mediator on {@code work} until the image is local; its final status. */
    static Map<String, Object> deploy(ClientTestProcesses procs, Path work, List<String> peers, String... more) throws Exception {
        ClientTestProcesses.Server node = start(procs, work, peers, more);
        NodeFixture.awaitPhase(work.resolve("state"), "hydrated", WAIT);
        Map<String, Object> s = NodeFixture.freshStatus(work.resolve("state"));
        assertEquals(0, procs.stop(node));
        return s;
    }

    /** A mediator as the agent starts one: its cache under WORK/chunk-cache, and the peers file it writes. */
    static ClientTestProcesses.Server start(ClientTestProcesses procs, Path work, List<String> peers, String... more) throws Exception {
        List<String> args = new java.util.ArrayList<>(List.of("node", "--image", img.toString(), "--disk", work.resolve("disk.img").toString(),
                "--state", work.resolve("state").toString(), "--socket", work.resolve("node.sock").toString(),
                "--chunk-cache", Peering.cacheDir(work).toString()));
        if (peers != null) {
            Path file = work.resolve("peers");
            Peering.writePeers(file, TOKEN, peers);
            args.addAll(List.of("--peers", file.toString()));
        }
        args.addAll(List.of(more));
        return procs.bmcastOn(work.resolve("node.sock"), LocalS3.env(), args.toArray(String[]::new));
    }

    static long dataChunks() {
        return manifest.chunks().stream().filter(c -> c != null).count();
    }

    static long cacheBytes(Path cache) throws Exception {
        try (Stream<Path> files = Files.walk(cache)) {
            return files.filter(p -> p.getFileName().toString().matches("[0-9a-f]{64}")).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}

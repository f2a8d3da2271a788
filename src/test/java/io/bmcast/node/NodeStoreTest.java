package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TestImages;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast node --image s3://...} as a real process against a real S3 server (S3Proxy): every chunk verified
 * before a byte of it reaches the disk, whatever the store does (flipped bytes, an outage, a missing chunk, wrong
 * credentials).
 */
class NodeStoreTest {
    static final int CHUNK = 1 << 20;
    @TempDir static Path dir;
    static LocalS3 s3;
    static StoreLocation img;
    static byte[] image;
    static Manifest manifest;

    @BeforeAll
    static void start() throws Exception {
        s3 = LocalS3.start(dir.resolve("s3"));
        LocalS3.useLocalCredentials();
        img = s3.location("images", "fleet/mixed");
        image = TestImages.mixed(24, CHUNK, 7);
        try (StoreClient c = StoreClient.open(img)) {
            manifest = TestImages.push(c, img, image, CHUNK);
        }
    }

    @AfterAll
    static void stop() {
        if (s3 != null) s3.close();
    }

    static long dataChunks(Manifest m) {
        return m.chunks().stream().filter(c -> c != null).count();
    }

    static List<String> args(StoreLocation at, Path work, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("node", "--image", at.toString(), "--disk", work.resolve("disk.img").toString(),
                "--state", work.resolve("state").toString(), "--socket", work.resolve("node.sock").toString()));
        a.addAll(List.of(more));
        return a;
    }

    static Map<String, Object> await(Path state, String what, Duration timeout, Predicate<Map<String, Object>> ok) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, Object> s = NodeState.readStatus(state);
            if (s != null && ok.test(s)) return s;
            if (System.nanoTime() > deadline) fail(what + " not within " + timeout.toSeconds() + " s: " + s);
            Thread.sleep(100);
        }
    }

    /** What the guest would read: the whole disk through the mediator's socket, by nbdcopy. */
    static byte[] throughTheSocket(Path sock, Path out) throws Exception {
        Tools.run(Duration.ofSeconds(60), "nbdcopy", "nbd+unix:///disk?socket=" + sock, out.toString()).requireSuccess("nbdcopy");
        return Files.readAllBytes(out);
    }

    @Test
    @Timeout(300)
    void flippedBytesFromTheStoreNeverReachTheGuestAndARelaunchComesFromTheCache() throws Exception {
        Tools.assume("nbdcopy");
        Path work = Files.createDirectories(dir.resolve("corrupt"));
        Path cache = dir.resolve("chunk-cache");
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            ClientTestProcesses.Server node = procs.bmcastOn(work.resolve("node.sock"), LocalS3.env(),
                    args(img, work, "--chunk-cache", cache.toString(), "--inject-corrupt", "0.3").toArray(String[]::new));
            Map<String, Object> s = NodeFixture.awaitPhase(work.resolve("state"), "hydrated", Duration.ofSeconds(120));
            s = NodeFixture.freshStatus(work.resolve("state"));
            assertEquals(dataChunks(manifest), NodeFixture.number(s, "chunksVerified"), "every data chunk verified: " + s);
            assertTrue(NodeFixture.number(s, "chunksRejected") > 0, "30% of the store's answers spoiled and refused: " + s);
            assertTrue(NodeFixture.number(s, "bytesFromStore") >= manifest.storedBytes(), s.toString());
            assertEquals(0, NodeFixture.number(s, "bytesFromPeers"), s.toString());
            assertArrayEquals(image, throughTheSocket(work.resolve("node.sock"), work.resolve("copy.raw")), "the guest's view is the image");
            assertEquals(0, procs.stop(node));
            assertArrayEquals(image, Files.readAllBytes(work.resolve("disk.img")), "the local disk is the image (cmp)");
            String log = Files.readString(procs.dir().resolve("server-1.log"));
            assertTrue(log.contains("rejected chunk ") && log.contains("from store s3://images/fleet/mixed"), log);

            // The same image again on this node: all from the chunk cache, nothing from the store.
            Path again = Files.createDirectories(dir.resolve("again"));
            ClientTestProcesses.Server second = procs.bmcastOn(again.resolve("node.sock"), LocalS3.env(),
                    args(img, again, "--chunk-cache", cache.toString()).toArray(String[]::new));
            NodeFixture.awaitPhase(again.resolve("state"), "hydrated", Duration.ofSeconds(120));
            Map<String, Object> t = NodeFixture.freshStatus(again.resolve("state"));
            assertEquals(0, NodeFixture.number(t, "bytesFromStore"), t.toString());
            assertEquals(manifest.storedBytes(), NodeFixture.number(t, "bytesFromCache"), t.toString());
            assertEquals(dataChunks(manifest), NodeFixture.number(t, "chunksVerified"), t.toString());
            assertEquals(0, procs.stop(second));
            assertArrayEquals(image, Files.readAllBytes(again.resolve("disk.img")));
        }
    }

    @Test
    @Timeout(300)
    void aStoreDownMidDeploymentKeepsServingWhatIsLocalRetriesAndCompletes() throws Exception {
        Tools.assume("nbdsh");
        Path sdir = dir.resolve("s3-outage");
        LocalS3 own = LocalS3.start(sdir);
        int port = own.port();
        StoreLocation at = own.location("images", "outage");
        try (StoreClient c = StoreClient.open(at)) {
            TestImages.push(c, at, image, CHUNK);
        }
        Path work = Files.createDirectories(dir.resolve("outage"));
        Path state = work.resolve("state");
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            ClientTestProcesses.Server node = procs.bmcastOn(work.resolve("node.sock"), LocalS3.env(),
                    args(at, work, "--hydrate-rate", "16Mbit", "--give-up", "120s").toArray(String[]::new));
            await(state, "some data local", Duration.ofSeconds(60), s -> NodeFixture.number(s, "bytesBackground") > 0);
            own.close();
            // While the store is down: the copy retries, and what is local still reads (chunk 0 is a hole, present).
            await(state, "retries while the store is down", Duration.ofSeconds(60), s -> NodeFixture.number(s, "fetchRetries") > 0);
            Map<String, Object> during = NodeState.readStatus(state);
            assertNotEquals("hydrated", during.get("phase"), "the outage came too late to matter: " + during);
            Tools.nbdsh(Duration.ofSeconds(30), "nbd+unix:///disk?socket=" + work.resolve("node.sock"),
                    "assert h.pread(65536, 0) == bytes(65536)").requireSuccess("a read of what is local while the store is down");
            own = LocalS3.start(sdir, port);
            NodeFixture.awaitPhase(state, "hydrated", Duration.ofSeconds(150));
            Map<String, Object> s = NodeFixture.freshStatus(state);
            assertEquals(dataChunks(manifest), NodeFixture.number(s, "chunksVerified"), s.toString());
            assertEquals(0, procs.stop(node));
            assertArrayEquals(image, Files.readAllBytes(work.resolve("disk.img")), "the local disk is the image after the outage");
        } finally {
            own.close();
        }
    }

    @Test
    @Timeout(240)
    void aChunkMissingFromTheStoreIsNamedWithTheImage() throws Exception {
        StoreLocation at = img.sibling("holed");
        Manifest m;
        try (StoreClient c = StoreClient.open(at)) {
            m = TestImages.push(c, at, TestImages.mixed(8, CHUNK, 31), CHUNK);
        }
        Manifest.Chunk gone = m.chunk(5);
        Files.delete(s3.dir().resolve("data").resolve("images").resolve(at.chunkKey(gone.sha256())));
        Path work = Files.createDirectories(dir.resolve("missing"));
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            ClientTestProcesses.Server node = procs.bmcastOn(work.resolve("node.sock"), LocalS3.env(),
                    args(at, work).toArray(String[]::new));
            String expected = "chunk " + gone.sha256() + " (chunk 5 at offset " + 5L * CHUNK + ") of s3://images/fleet/holed is missing from the store";
            Map<String, Object> s = await(work.resolve("state"), "the error", Duration.ofSeconds(60),
                    x -> String.valueOf(x.get("lastError")).contains(expected));
            assertNotEquals("hydrated", s.get("phase"));
            procs.stop(node);
        }
    }

    @Test
    @Timeout(120)
    void wrongCredentialsAreOneSentence() throws Exception {
        Path work = Files.createDirectories(dir.resolve("creds"));
        Map<String, String> env = new HashMap<>(LocalS3.env());
        env.put("AWS_SECRET_ACCESS_KEY", "not-the-secret");
        Tools.Result r = Tools.run(Duration.ofSeconds(90), env, ClientTestProcesses.bmcastCommand(args(img, work).toArray(String[]::new)));
        assertNotEquals(0, r.exitCode());
        String err = r.stderr().strip();
        assertTrue(err.startsWith("bmcast: bucket images at " + s3.endpoint() + " refused the credentials"), err);
        assertEquals(1, err.lines().filter(l -> l.startsWith("bmcast:")).count(), err);
        assertTrue(!err.contains("Exception") && !err.contains("\tat "), err);
        assertTrue(Arrays.stream(new String[] {"disk.img"}).noneMatch(f -> Files.exists(work.resolve(f))), "nothing created for a refused image");
    }
}

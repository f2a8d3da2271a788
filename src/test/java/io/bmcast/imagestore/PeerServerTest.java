package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.agent.Peering;
import io.bmcast.storage.FetchPriority;
import io.bmcast.testing.TestCerts;
import io.bmcast.transport.TlsCredentials;
import io.bmcast.util.Sha256;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node's peer server, over loopback, asked by the mediator's own peer client ({@link HttpChunkSource}): it serves
 * its cache's chunks only to holders of the fleet's peer token, falls back to its provider for what the cache lacks
 * (404 when neither has it), never sends a chunk that rotted on its disk, serves over HTTPS with the fleet's
 * certificate, lets guests' reads pass background copies, and, with the fault on, corrupts exactly the share of
 * chunks asked (which the receiver's check catches, every one).
 */
class PeerServerTest {
    static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

    @TempDir
    Path dir;

    @Test
    void servesVerifiedChunksOnlyToTheFleetsToken() throws Exception {
        ChunkCache cache = ChunkCache.open(dir.resolve("cache"), 64L << 20);
        List<Manifest.Chunk> chunks = fill(cache, 6);
        AtomicReference<String> token = new AtomicReference<>();
        try (PeerServer server = PeerServer.start(LOOPBACK, null, cache, ChunkProvider.NONE, token::get, 0, null)) {
            URI base = server.url();
            assertEquals("127.0.0.1", base.getHost());
            // before the controller's Welcome, nobody is let in
            assertThrows(IOException.class, () -> new HttpChunkSource("p", base, "anything").fetch(chunks.getFirst()));
            token.set("bmp_fleet");
            assertEquals(401, status(base, chunks.getFirst().sha256(), null));
            assertEquals(403, status(base, chunks.getFirst().sha256(), "bmp_other"));
            assertEquals(403, status(base, chunks.getFirst().sha256(), "bmp_flee"));
            assertEquals(400, status(base, "../../node.credential", "bmp_fleet"));

            HttpChunkSource peer = new HttpChunkSource("p", base, "bmp_fleet");
            for (Manifest.Chunk c : chunks) {
                ByteBuffer got = peer.fetch(c);
                assertTrue(ChunkVerifier.verified(c, got), "chunk " + c.sha256() + " arrives whole and exact");
            }
            Manifest.Chunk absent = chunk(new byte[] {1, 2, 3});
            assertNull(peer.fetch(absent), "a chunk it does not hold: 404");

            // A chunk that rotted on this disk is never sent, and dropped from the cache.
            Manifest.Chunk rotten = chunks.get(2);
            Path file = cache.path(rotten.sha256());
            byte[] bytes = Files.readAllBytes(file);
            bytes[7] ^= 1;
            Files.write(file, bytes);
            assertNull(peer.fetch(rotten));
            assertFalse(cache.contains(rotten.sha256()));
            assertEquals(chunks.size(), server.chunksServed(), "each good chunk once; the rotten one never");
        }
    }

    @Test
    void theInjectedFaultCorruptsExactlyItsShareAndEveryOneFailsVerification() throws Exception {
        ChunkCache cache = ChunkCache.open(dir.resolve("cache"), 64L << 20);
        List<Manifest.Chunk> chunks = fill(cache, 10);
        try (PeerServer server = PeerServer.start(LOOPBACK, null, cache, ChunkProvider.NONE, () -> "t", 0.3, null)) {
            HttpChunkSource peer = new HttpChunkSource("liar", server.url(), "t");
            int bad = 0;
            for (Manifest.Chunk c : chunks) if (!ChunkVerifier.verified(c, peer.fetch(c))) bad++;
            assertEquals(3, bad, "30% of 10 chunks served corrupted");
            assertEquals(3, server.chunksCorrupted());
            for (Manifest.Chunk c : chunks) assertTrue(ChunkVerifier.verified(c, cache.get(c.sha256())), "the cache itself stays exact");
        }
    }

    @Test
    void servesOverHttpsWithTheFleetsCertificate() throws Exception {
        Path pki = TestCerts.make(dir.resolve("pki"));
        ChunkCache cache = ChunkCache.open(dir.resolve("cache"), 64L << 20);
        List<Manifest.Chunk> chunks = fill(cache, 2);
        try (PeerServer server = PeerServer.start(LOOPBACK, TlsCredentials.httpsServer(pki), cache, ChunkProvider.NONE, () -> "t", 0, null)) {
            assertEquals("https", server.url().getScheme());
            URI base = URI.create("https://localhost:" + server.address().getPort());
            ByteBuffer got = new HttpChunkSource("p", base, "t", TlsCredentials.httpsClient(pki.resolve("ca-cert.pem"))).fetch(chunks.getFirst());
            assertTrue(ChunkVerifier.verified(chunks.getFirst(), got));
            // a client that does not trust the fleet's CA gets nothing
            assertThrows(IOException.class, () -> new HttpChunkSource("p", base, "t").fetch(chunks.getFirst()));
            // the mediator's way: the peers file the agent writes names the CA, and its peer sources trust it
            Path file = dir.resolve("peers");
            Peering.writePeers(file, "t", List.of(base.toString()), pki.resolve("ca-cert.pem"));
            var sources = PeerList.read(file).sources();
            assertTrue(ChunkVerifier.verified(chunks.get(1), sources.getFirst().fetch(chunks.get(1))));
        }
    }

    /**
     * A chunk the cache lacks is asked of the provider (a deployment on the node fetching the image): its answer is
     * served, null is a 404, a failure a 503 (the asker tries its next source). The asker's background mark
     * ({@code ?background=1}, which the peer client adds under {@link FetchPriority}) reaches the provider as its
     * argument and as the serving thread's mark, so it travels on down the tree.
     */
    @Test
    void aChunkTheCacheLacksComesFromTheProviderWithTheAskersPriority() throws Exception {
        ChunkCache cache = ChunkCache.open(dir.resolve("cache"), 64L << 20);
        Manifest.Chunk held = fill(cache, 1).getFirst();
        byte[] bytes = new byte[100_000];
        new Random(3).nextBytes(bytes);
        Manifest.Chunk provided = chunk(bytes);
        Manifest.Chunk failing = chunk(new byte[] {9, 9});
        List<String> asked = new CopyOnWriteArrayList<>();
        ChunkProvider provider = (sha, background) -> {
            asked.add(sha.substring(0, 8) + " background=" + background + " marked=" + FetchPriority.isBackground());
            if (sha.equals(provided.sha256())) return ByteBuffer.wrap(bytes);
            if (sha.equals(failing.sha256())) throw new IOException("the store is down");
            return null;
        };
        try (PeerServer server = PeerServer.start(LOOPBACK, null, cache, provider, () -> "t", 0, null)) {
            HttpChunkSource peer = new HttpChunkSource("p", server.url(), "t");
            assertTrue(ChunkVerifier.verified(held, peer.fetch(held)));
            assertEquals(List.of(), asked, "a held chunk is served from the cache");
            assertTrue(ChunkVerifier.verified(provided, peer.fetch(provided)));
            assertTrue(ChunkVerifier.verified(provided, FetchPriority.run(true, () -> peer.fetch(provided))));
            Manifest.Chunk unknown = chunk(new byte[] {1});
            assertNull(peer.fetch(unknown), "neither held nor any deployment's: 404");
            IOException e = assertThrows(IOException.class, () -> peer.fetch(failing));
            assertTrue(e.getMessage().contains("HTTP 503"), e.getMessage());
            String p = provided.sha256().substring(0, 8);
            assertEquals(List.of(p + " background=false marked=false", p + " background=true marked=true",
                    unknown.sha256().substring(0, 8) + " background=false marked=false",
                    failing.sha256().substring(0, 8) + " background=false marked=false"), asked);
            assertEquals(3, server.chunksServed());
            assertEquals(2, server.chunksFromProvider());
        }
    }

    /**
     * Background copies send in at most {@link PeerServer#BACKGROUND_SLOTS} slots and, past them, wait for one instead
     * of being refused (a refusal sends a tree member to the store); a guest's read is served while they wait. The
     * copies here are raw sockets that do not read their answers, so each holds its slot until it goes away.
     */
    @Test
    void backgroundCopiesWaitForASlotAndAGuestsReadPassesThem() throws Exception {
        ChunkCache cache = ChunkCache.open(dir.resolve("cache"), 64L << 20);
        Manifest.Chunk held = fill(cache, 1).getFirst();
        // Far more than the loopback socket buffers hold, so a send blocks until its asker reads.
        ByteBuffer big = ByteBuffer.allocate(64 << 20);
        String sha = Sha256.hex(new byte[] {42});
        ChunkProvider provider = (asked, background) -> asked.equals(sha) ? big.duplicate() : null;
        int copies = PeerServer.BACKGROUND_SLOTS + 2;
        List<java.net.Socket> askers = new ArrayList<>();
        try (PeerServer server = PeerServer.start(LOOPBACK, null, cache, provider, () -> "t", 0, null)) {
            for (int i = 0; i < copies; i++) {
                java.net.Socket s = new java.net.Socket("127.0.0.1", server.address().getPort());
                askers.add(s);
                s.getOutputStream().write(("GET /v1/chunks/" + sha + "?background=1 HTTP/1.1\r\nHost: peer\r\n"
                        + "Authorization: Bearer t\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
            for (int i = 0; i < 1000 && server.backgroundWaiting() < 2; i++) Thread.sleep(10);
            assertEquals(2, server.backgroundWaiting(), "two copies wait for a slot");
            HttpChunkSource peer = new HttpChunkSource("p", server.url(), "t");
            assertTrue(ChunkVerifier.verified(held, peer.fetch(held)), "a guest's read is served meanwhile");
            assertEquals(2, server.backgroundWaiting());
            // The copies being sent go away: the waiting ones get their slots and are answered 200.
            List<java.net.Socket> sending = new ArrayList<>();
            List<java.net.Socket> waiting = new ArrayList<>();
            for (java.net.Socket s : askers) {
                s.setSoTimeout(200);
                try {
                    statusLine(s);
                    sending.add(s);
                } catch (java.net.SocketTimeoutException nothingYet) {
                    waiting.add(s);
                }
            }
            assertEquals(PeerServer.BACKGROUND_SLOTS, sending.size(), "one send per slot");
            for (java.net.Socket s : sending) s.close();
            for (java.net.Socket s : waiting) {
                s.setSoTimeout(60_000);
                assertEquals("HTTP/1.1 200 OK", statusLine(s));
            }
            assertEquals(0, server.busyRefusals(), "nobody was sent away");
        } finally {
            for (java.net.Socket s : askers) s.close();
        }
    }

    private static String statusLine(java.net.Socket s) throws IOException {
        StringBuilder line = new StringBuilder();
        java.io.InputStream in = s.getInputStream();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c < 0) throw new IOException("closed before a status line");
            if (c != '\r') line.append((char) c);
        }
        return line.toString();
    }

    @Test
    void thePeersFileHoldsTheTokenForTheAgentsUserOnly() throws Exception {
        Path file = dir.resolve("peers");
        Peering.writePeers(file, "bmp_x", List.of("http://10.0.0.1:7301", "http://10.0.0.2:7301"));
        var p = new java.util.Properties();
        try (var in = Files.newInputStream(file)) {
            p.load(in);
        }
        assertEquals("bmp_x", p.getProperty("token"));
        assertEquals("http://10.0.0.1:7301,http://10.0.0.2:7301", p.getProperty("peers"));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    private static int status(URI base, String sha, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/v1/chunks/" + sha));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** {@code n} chunks of random bytes (64 KiB to 1 MiB), kept in {@code cache} as a mediator keeps verified ones. */
    static List<Manifest.Chunk> fill(ChunkCache cache, int n) throws IOException {
        Random r = new Random(n);
        List<Manifest.Chunk> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] b = new byte[(64 << 10) * (1 + r.nextInt(16))];
            r.nextBytes(b);
            Manifest.Chunk c = chunk(b);
            cache.keep(c, ByteBuffer.wrap(b));
            out.add(c);
        }
        assertNotNull(cache.get(out.getFirst().sha256()));
        return out;
    }

    static Manifest.Chunk chunk(byte[] stored) {
        return new Manifest.Chunk(Sha256.hex(ByteBuffer.wrap(stored)), Manifest.Encoding.RAW, stored.length);
    }
}

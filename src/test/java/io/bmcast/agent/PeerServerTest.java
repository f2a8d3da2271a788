package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.imagestore.ChunkCache;
import io.bmcast.imagestore.ChunkVerifier;
import io.bmcast.imagestore.HttpChunkSource;
import io.bmcast.imagestore.Manifest;
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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent's peer server, over loopback, asked by the mediator's own peer client ({@link HttpChunkSource}): it serves
 * its cache's chunks only to holders of the fleet's peer token, says 404 for what it lacks, never sends a chunk that
 * rotted on its disk, serves over HTTPS with the fleet's certificate, and, with the fault on, corrupts exactly the
 * share of chunks asked (which the receiver's check catches, every one).
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
        try (PeerServer server = PeerServer.start(LOOPBACK, null, cache, token::get, 0)) {
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
        try (PeerServer server = PeerServer.start(LOOPBACK, null, cache, () -> "t", 0.3)) {
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
        try (PeerServer server = PeerServer.start(LOOPBACK, TlsCredentials.httpsServer(pki), cache, () -> "t", 0)) {
            assertEquals("https", server.url().getScheme());
            URI base = URI.create("https://localhost:" + server.address().getPort());
            HttpClient trusting = HttpClient.newBuilder().sslContext(TlsCredentials.httpsClient(pki.resolve("ca-cert.pem"))).build();
            ByteBuffer got = new HttpChunkSource("p", base, "t", trusting).fetch(chunks.getFirst());
            assertTrue(ChunkVerifier.verified(chunks.getFirst(), got));
            // a client that does not trust the fleet's CA gets nothing
            assertThrows(IOException.class, () -> new HttpChunkSource("p", base, "t").fetch(chunks.getFirst()));
            // the mediator's way: the peers file the agent writes names the CA, and its peer sources trust it
            Path file = dir.resolve("peers");
            Peering.writePeers(file, "t", List.of(base.toString()), pki.resolve("ca-cert.pem"));
            var sources = io.bmcast.imagestore.PeerList.read(file).sources();
            assertTrue(ChunkVerifier.verified(chunks.get(1), sources.getFirst().fetch(chunks.get(1))));
        }
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

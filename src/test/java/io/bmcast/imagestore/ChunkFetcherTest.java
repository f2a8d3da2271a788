package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ChunkFetcher against a real S3 server (S3Proxy) and real HTTP peers on loopback: every chunk handed out
 * verifies, whichever source lied or failed.
 */
class ChunkFetcherTest {
    static final int CHUNK = 64 << 10;
    @TempDir static Path dir;
    static LocalS3 s3;
    static StoreClient client;
    static StoreLocation img;
    static byte[] image;
    static Manifest manifest;

    @BeforeAll
    static void start() throws Exception {
        s3 = LocalS3.start(dir.resolve("s3"));
        LocalS3.useLocalCredentials();
        img = s3.location("images", "fleet/mixed");
        client = StoreClient.open(img);
        image = TestImages.mixed(16, CHUNK, 13);
        manifest = TestImages.push(client, img, image, CHUNK);
    }

    @AfterAll
    static void stop() {
        if (client != null) client.close();
        if (s3 != null) s3.close();
    }

    static ChunkSource store() {
        return shared(client, img);
    }

    /** The store through a client the test keeps open after the fetcher closes. */
    static ChunkSource shared(StoreClient c, StoreLocation at) {
        StoreChunkSource s = new StoreChunkSource(c, at);
        return new ChunkSource() {
            @Override
            public String name() {
                return s.name();
            }

            @Override
            public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
                return s.fetch(chunk);
            }
        };
    }

    static void assertWhole(ChunkFetcher f) throws IOException {
        for (int i = 0; i < manifest.chunkCount(); i++) {
            ByteBuffer d = f.decoded(i);
            if (manifest.chunk(i) == null) {
                assertNull(d);
                continue;
            }
            byte[] got = new byte[d.remaining()];
            d.get(got);
            assertArrayEquals(java.util.Arrays.copyOfRange(image, i * CHUNK, (i + 1) * CHUNK), got, "chunk " + i);
        }
    }

    static int dataChunks() {
        int n = 0;
        for (Manifest.Chunk c : manifest.chunks()) if (c != null) n++;
        return n;
    }

    @Test
    void storeThenCacheAndTheCacheKeepsOnlyVerifiedBytesUnderTheirNames() throws Exception {
        ChunkCache cache = ChunkCache.open(dir.resolve("cache1"), 64L << 20);
        try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest).cache(cache).store(store()).build()) {
            assertWhole(f);
            ChunkFetcher.Counters c = f.counters();
            assertEquals(dataChunks(), c.chunksFromStore());
            assertEquals(manifest.storedBytes(), c.bytesFromStore());
            assertEquals(dataChunks(), c.chunksVerified());
        }
        for (Manifest.Chunk c : manifest.chunks()) {
            if (c == null) continue;
            Path p = cache.dir().resolve(c.sha256().substring(0, 2)).resolve(c.sha256());
            assertEquals(c.sha256(), io.bmcast.util.Sha256.hex(Files.readAllBytes(p)));
        }
        assertEquals(manifest.storedBytes(), cache.bytes());
        // A second deployment on the node: everything from the cache, nothing from the store.
        try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest).cache(ChunkCache.open(cache.dir(), 64L << 20)).store(store()).build()) {
            assertWhole(f);
            assertEquals(0, f.counters().bytesFromStore());
            assertEquals(manifest.storedBytes(), f.counters().bytesFromCache());
        }
        // A cache file that rotted is rejected, removed, and fetched again.
        Manifest.Chunk first = manifest.chunk(1);
        Path p = cache.path(first.sha256());
        byte[] b = Files.readAllBytes(p);
        b[7] ^= 1;
        Files.write(p, b);
        try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest).cache(cache).store(store()).build()) {
            assertWhole(f);
            assertEquals(1, f.counters().rejectedFromCache());
            assertEquals(1, f.counters().chunksFromStore());
        }
        assertEquals(first.sha256(), io.bmcast.util.Sha256.hex(Files.readAllBytes(p)));
    }

    @Test
    void theCacheEvictsTheLeastRecentlyUsed() throws Exception {
        List<Manifest.Chunk> data = new ArrayList<>();
        List<ByteBuffer> bytes = new ArrayList<>();
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < 4; i++) {
            byte[] b = new byte[CHUNK];
            r.nextBytes(b);
            data.add(new Manifest.Chunk(io.bmcast.util.Sha256.hex(b), Manifest.Encoding.RAW, CHUNK));
            bytes.add(ByteBuffer.wrap(b));
        }
        ChunkCache cache = ChunkCache.open(dir.resolve("cache-lru"), 3L * CHUNK);
        for (int i = 0; i < 3; i++) {
            cache.keep(data.get(i), bytes.get(i));
            Files.setLastModifiedTime(cache.path(data.get(i).sha256()), java.nio.file.attribute.FileTime.fromMillis(1_000_000L * (i + 1)));
        }
        assertEquals(3L * CHUNK, cache.bytes());
        assertTrue(cache.fetch(data.get(0)) != null); // a hit: now the most recently used
        cache.keep(data.get(3), bytes.get(3));
        assertTrue(cache.contains(data.get(0).sha256()));
        assertFalse(cache.contains(data.get(1).sha256()), "the least recently used went");
        assertTrue(cache.contains(data.get(2).sha256()));
        assertTrue(cache.contains(data.get(3).sha256()));
        assertEquals(3L * CHUNK, cache.bytes());
        try (var tmp = Files.list(cache.dir().resolve("tmp"))) {
            assertEquals(0, tmp.count(), "no temp file left");
        }
    }

    @Test
    void aFlippedByteFromTheStoreIsRejectedAndFetchedAgain() throws Exception {
        CorruptingSource bad = new CorruptingSource(store(), 0.5);
        try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest).store(bad).build()) {
            assertWhole(f);
            ChunkFetcher.Counters c = f.counters();
            assertEquals(bad.corrupted(), c.rejectedFromStore());
            assertTrue(c.rejectedFromStore() > 0, "at 50% over " + dataChunks() + " chunks some were spoiled");
            assertEquals(dataChunks(), c.chunksVerified());
        }
    }

    /** A real HTTP peer on loopback serving a cache, optionally lying. */
    static HttpServer peer(ChunkCache cache, String token, boolean corrupt) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        s.createContext("/v1/chunks/", ex -> {
            try (ex) {
                if (!("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                    ex.sendResponseHeaders(401, -1);
                    return;
                }
                String sha = ex.getRequestURI().getPath().substring("/v1/chunks/".length());
                ByteBuffer b = cache.get(sha);
                if (b == null) {
                    ex.sendResponseHeaders(404, -1);
                    return;
                }
                byte[] out = new byte[b.remaining()];
                b.get(out);
                if (corrupt) out[out.length / 2] ^= 0x10;
                ex.sendResponseHeaders(200, out.length);
                try (OutputStream o = ex.getResponseBody()) {
                    o.write(out);
                }
            }
        });
        s.start();
        return s;
    }

    static URI base(HttpServer s) {
        return URI.create("http://127.0.0.1:" + s.getAddress().getPort());
    }

    @Test
    void peersFirstABadPeerIsDroppedAFailingOneFallsThrough() throws Exception {
        ChunkCache full = ChunkCache.open(dir.resolve("peer-full"), 64L << 20);
        try (ChunkFetcher warm = ChunkFetcher.builder(img.display(), manifest).cache(full).store(store()).build()) {
            assertWhole(warm);
        }
        int deadPort;
        try (ServerSocket ss = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            deadPort = ss.getLocalPort();
        }
        HttpServer liar = peer(full, "t", true);
        HttpServer honest = peer(full, "t", false);
        HttpServer wrongToken = peer(full, "other", false);
        try {
            List<ChunkSource> peers = List.of(
                    new HttpChunkSource("gone", URI.create("http://127.0.0.1:" + deadPort), "t"),
                    new HttpChunkSource("denied", base(wrongToken), "t"),
                    new HttpChunkSource("liar", base(liar), "t"),
                    new HttpChunkSource("honest", base(honest), "t"));
            ChunkCache mine = ChunkCache.open(dir.resolve("peer-mine"), 64L << 20);
            try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest).cache(mine).peers(peers).store(store()).build()) {
                assertWhole(f);
                ChunkFetcher.Counters c = f.counters();
                assertEquals(1, c.rejectedFromPeers(), "the liar is dropped after its first bad chunk");
                assertEquals(List.of("liar"), f.droppedPeers());
                assertEquals(dataChunks(), c.chunksFromPeers());
                assertEquals(0, c.chunksFromStore());
                assertEquals(manifest.storedBytes(), mine.bytes(), "verified peer chunks were kept");
            }
            // A peer that lacks the chunks (404) and then none at all: the store answers.
            ChunkCache empty = ChunkCache.open(dir.resolve("peer-empty"), 64L << 20);
            HttpServer lacking = peer(empty, "t", false);
            try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest)
                    .peers(List.of(new HttpChunkSource("lacking", base(lacking), "t"))).store(store()).build()) {
                assertWhole(f);
                assertEquals(dataChunks(), f.counters().chunksFromStore());
                assertEquals(0, f.counters().chunksRejected());
            } finally {
                lacking.stop(0);
            }
        } finally {
            liar.stop(0);
            honest.stop(0);
            wrongToken.stop(0);
        }
    }

    @Test
    void concurrentRequestsShareOneFetchAndTheStoreCapHolds() throws Exception {
        int[] inside = new int[2]; // [now, max]
        ChunkSource counting = new ChunkSource() {
            final ChunkSource s = store();

            @Override
            public String name() {
                return s.name();
            }

            @Override
            public ByteBuffer fetch(Manifest.Chunk c) throws IOException {
                synchronized (inside) {
                    inside[0]++;
                    inside[1] = Math.max(inside[1], inside[0]);
                }
                try {
                    return s.fetch(c);
                } finally {
                    synchronized (inside) {
                        inside[0]--;
                    }
                }
            }
        };
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest).store(counting).storeConcurrency(2).build()) {
            List<Future<ByteBuffer>> all = new ArrayList<>();
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < manifest.chunkCount(); i++) {
                    int idx = i;
                    all.add(pool.submit(() -> f.stored(idx)));
                }
            }
            for (Future<ByteBuffer> x : all) x.get();
            assertTrue(inside[1] <= 2, "at most 2 store requests at once, saw " + inside[1]);
            assertTrue(f.counters().chunksFromStore() <= 4L * dataChunks());
            assertEquals(dataChunks(), f.counters().chunksVerified());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aChunkMissingFromTheStoreIsNamedWithItsPlaceAndImage() throws Exception {
        byte[] other = TestImages.mixed(4, CHUNK, 99);
        StoreLocation at = img.sibling("missing");
        Manifest m = TestImages.push(client, at, other, CHUNK);
        Manifest.Chunk gone = m.chunk(3);
        Path file = s3.dir().resolve("data").resolve("images").resolve(at.chunkKey(gone.sha256()));
        Files.delete(file);
        try (ChunkFetcher f = ChunkFetcher.builder(at.display(), m).store(shared(client, at)).build()) {
            StoreException e = assertThrows(StoreException.class, () -> f.stored(3));
            assertTrue(e.permanent());
            assertEquals("chunk " + gone.sha256() + " (chunk 3 at offset " + 3 * CHUNK + ") of " + at.display()
                    + " is missing from the store (store " + at.display() + ")", e.getMessage());
        }
    }

    @Test
    void aStoreDownMidwayIsRetriedUntilItIsBack() throws Exception {
        Path d = dir.resolve("s3-outage");
        LocalS3 own = LocalS3.start(d);
        int port = own.port();
        StoreLocation at = own.location("images", "outage");
        try (StoreClient c = StoreClient.open(at)) {
            Manifest m = TestImages.push(c, at, image, CHUNK);
            try (ChunkFetcher f = ChunkFetcher.builder(at.display(), m).store(shared(c, at))
                    .backoff(Duration.ofMillis(50), Duration.ofMillis(400)).giveUp(Duration.ofMinutes(3)).build()) {
                assertTrue(f.stored(1) != null);
                own.close();
                ExecutorService one = Executors.newSingleThreadExecutor();
                try {
                    Future<ByteBuffer> waiting = one.submit(() -> f.stored(2));
                    for (int i = 0; i < 200 && f.counters().retries() == 0; i++) Thread.sleep(50);
                    assertTrue(f.counters().retries() > 0, "the fetch is retrying while the store is down");
                    assertFalse(waiting.isDone());
                    own = LocalS3.start(d, port);
                    assertTrue(ChunkVerifier.verified(m.chunk(2), waiting.get()));
                } finally {
                    one.shutdownNow();
                }
            }
        } finally {
            own.close();
        }
    }

    @Test
    void aStoreThatStaysDownFailsAtTheGiveUpInOneSentence() throws Exception {
        int deadPort;
        try (ServerSocket ss = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            deadPort = ss.getLocalPort();
        }
        StoreLocation at = StoreLocation.parse("s3://images/x/y").with(URI.create("http://127.0.0.1:" + deadPort), "us-east-1");
        try (StoreClient c = StoreClient.open(at);
                ChunkFetcher f = ChunkFetcher.builder(at.display(), manifest).store(shared(c, at))
                        .backoff(Duration.ofMillis(20), Duration.ofMillis(50)).giveUp(Duration.ofMillis(300)).build()) {
            StoreException e = assertThrows(StoreException.class, () -> f.stored(1));
            assertTrue(e.getMessage().startsWith("gave up on chunk " + manifest.chunk(1).sha256() + " (chunk 1 at offset " + CHUNK + ") of s3://images/x/y after "), e.getMessage());
            assertTrue(e.getMessage().contains("cannot reach bucket images at http://127.0.0.1:" + deadPort), e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
        }
    }

    /** The store, counting how often each chunk left it. */
    static final class CountingStore implements ChunkSource {
        final ChunkSource inner = store();
        final java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> sent = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public ByteBuffer fetch(Manifest.Chunk c) throws IOException {
            ByteBuffer b = inner.fetch(c);
            sent.computeIfAbsent(c.sha256(), k -> new java.util.concurrent.atomic.AtomicInteger()).incrementAndGet();
            return b;
        }

        int times(String sha) {
            var n = sent.get(sha);
            return n == null ? 0 : n.get();
        }
    }

    /**
     * A deployment's member on loopback, as a node runs one: its cache, a {@link PeerServer} over that cache whose
     * provider is the member's fetcher ({@link ChunkFetcher#serve}), and the fetcher, asking the other members along
     * each chunk's tree over real HTTP, then the store.
     */
    static final class Member implements AutoCloseable {
        final ChunkCache cache;
        final PeerServer server;
        volatile ChunkFetcher fetcher;

        Member(Path dir, double corrupt) throws IOException {
            cache = ChunkCache.open(dir, 64L << 20);
            server = PeerServer.start(new InetSocketAddress("127.0.0.1", 0), null, cache, (sha, background) -> {
                ChunkFetcher f = fetcher;
                return f == null ? null : f.serve(sha, background);
            }, () -> "t", corrupt, null);
        }

        String name() {
            return PeerList.memberName(server.url());
        }

        @Override
        public void close() throws IOException {
            server.close();
            if (fetcher != null) fetcher.close();
        }
    }

    /** {@code n} members (the first {@code liars} flipping a byte in every chunk they serve), each with its fetcher. */
    static List<Member> deployment(String name, int n, int liars, ChunkSource store, java.util.Set<String> complete) throws IOException {
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < n; i++) members.add(new Member(dir.resolve(name + "-" + i), i < liars ? 1.0 : 0));
        for (Member m : members) {
            List<ChunkSource> peers = new ArrayList<>();
            for (Member o : members) {
                if (o != m) peers.add(new HttpChunkSource(o.name(), o.server.url(), "t"));
            }
            m.fetcher = ChunkFetcher.builder(img.display(), manifest).cache(m.cache).peers(peers).tree(m.name(), complete)
                    .store(store).build();
        }
        return members;
    }

    static List<String> names(List<Member> members) {
        return members.stream().map(Member::name).toList();
    }

    /**
     * Pull-through: the deepest member of each chunk's tree asks first, while nobody holds anything; its parent fetches
     * the chunk through its own parent, and so on up to the root, which alone goes to the store. Afterwards every
     * member on the way holds the chunk, and the store sent each chunk once.
     */
    @Test
    void theDeepestMemberPullsEachChunkThroughItsAncestorsAndTheStoreSendsItOnce() throws Exception {
        CountingStore store = new CountingStore();
        List<Member> members = deployment("chain", 8, 0, store, java.util.Set.of());
        try {
            java.util.Map<String, Member> byName = new java.util.HashMap<>();
            for (Member m : members) byName.put(m.name(), m);
            PeerTree tree = new PeerTree(names(members));
            for (int i = 0; i < manifest.chunkCount(); i++) {
                Manifest.Chunk c = manifest.chunk(i);
                if (c == null) continue;
                List<String> rank = tree.ranking(c.sha256());
                String leaf = rank.getLast();
                assertTrue(ChunkVerifier.verified(c, byName.get(leaf).fetcher.stored(i)));
                List<String> up = tree.ancestors(leaf, c.sha256());
                assertEquals(3, up.size(), "the deepest of 8 is 3 hops from the root");
                for (String a : up) assertTrue(byName.get(a).cache.contains(c.sha256()), a + " holds chunk " + i + " now (pulled through)");
                assertEquals(1, store.times(c.sha256()), "chunk " + i + " left the store once");
            }
            long provided = members.stream().mapToLong(m -> m.server.chunksFromProvider()).sum();
            assertTrue(provided >= 3L * store.sent.size(), "every hop was pulled through: " + provided);
            long fromPeers = members.stream().mapToLong(m -> m.fetcher.counters().chunksFromPeers()).sum();
            assertEquals(3L * store.sent.size(), fromPeers, "three hops per chunk, each verified by its receiver");
        } finally {
            for (Member m : members) m.close();
        }
    }

    /**
     * In-flight join: every member of a deployment reads the whole image at the same moment. Each asks only members
     * ranked above it (no request ever waits on one below, so nothing deadlocks), a request for a chunk being fetched
     * joins that fetch, and the store sends each chunk once however many members start together.
     */
    @Test
    void aDeploymentStartingTogetherTakesEachChunkFromTheStoreOnce() throws Exception {
        CountingStore store = new CountingStore();
        List<Member> members = deployment("together", 8, 0, store, java.util.Set.of());
        ExecutorService pool = Executors.newFixedThreadPool(members.size());
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            List<Future<?>> all = new ArrayList<>();
            for (Member m : members) {
                all.add(pool.submit(() -> {
                    go.await();
                    assertWhole(m.fetcher);
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : all) f.get(5, java.util.concurrent.TimeUnit.MINUTES);
            for (Manifest.Chunk c : manifest.chunks()) {
                if (c != null) assertEquals(1, store.times(c.sha256()), "chunk " + c.sha256() + " left the store once");
            }
            for (Member m : members) {
                assertEquals(0, m.fetcher.counters().chunksRejected());
                assertEquals(dataChunks(), m.fetcher.counters().chunksVerified());
            }
        } finally {
            pool.shutdownNow();
            for (Member m : members) m.close();
        }
    }

    /**
     * A member that lies (every chunk it serves has a flipped byte) and claims the whole image, so it ranks first in
     * every chunk's tree: each member that asks it rejects its first answer, drops it for the deployment and never
     * asks it again, and still gets every chunk verified from the next ancestor or the store.
     */
    @Test
    void aLyingMemberIsDroppedAfterItsFirstBadChunkAndTheOthersStillGetEveryChunk() throws Exception {
        CountingStore store = new CountingStore();
        List<Member> members = new ArrayList<>();
        try {
            Member liar = new Member(dir.resolve("liar"), 1.0);
            members.add(liar);
            liar.fetcher = ChunkFetcher.builder(img.display(), manifest).cache(liar.cache).store(store()).build();
            assertWhole(liar.fetcher); // it does hold everything
            java.util.Set<String> complete = java.util.Set.of(liar.name());
            for (int i = 0; i < 3; i++) members.add(new Member(dir.resolve("honest-" + i), 0));
            for (Member m : members.subList(1, members.size())) {
                List<ChunkSource> peers = new ArrayList<>();
                for (Member o : members) {
                    if (o != m) peers.add(new HttpChunkSource(o.name(), o.server.url(), "t"));
                }
                m.fetcher = ChunkFetcher.builder(img.display(), manifest).cache(m.cache).peers(peers).tree(m.name(), complete)
                        .store(store).build();
            }
            for (Member m : members.subList(1, members.size())) {
                assertWhole(m.fetcher);
                assertEquals(1, m.fetcher.counters().rejectedFromPeers(), "the liar is asked once: " + m.fetcher.counters());
                assertEquals(List.of(liar.name()), m.fetcher.droppedPeers());
            }
            assertEquals(3, liar.server.chunksCorrupted());
        } finally {
            for (Member m : members) m.close();
        }
    }
}

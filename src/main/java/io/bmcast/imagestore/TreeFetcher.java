package io.bmcast.imagestore;

import io.bmcast.storage.LinkEmulator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One node's chunks of one deployment, fetched along the deployment's {@link PeerTree}: this node's cache, then
 * a fetch already in flight here (joined, never repeated), then its ancestors in the chunk's tree (parent first),
 * then the store, under a cap on this node's concurrent store requests. Every chunk is checked with
 * {@link ChunkVerifier} before it is kept or returned; a peer that sends a bad chunk or fails is dropped for the
 * deployment, a bad chunk from the store is fetched again.
 *
 * <p>{@link #serve} answers other members: a chunk held is sent, one being fetched is sent when its fetch completes
 * (in-flight join), and one of the image that this node neither holds nor fetches is fetched through its own chain
 * first (pull-through). So a child whose parent is a little behind waits for it instead of going to the store, and
 * the store sees each chunk about once however many members start together (the herd Kraken's and Dragonfly's
 * trackers exist to avoid). Members only ask members ranked above them, so the waits cannot form a cycle.
 */
public final class TreeFetcher {
    /** How this node reaches another member's peer server. */
    @FunctionalInterface
    public interface PeerClient {
        /** The chunk's stored bytes as {@code member} sent them, or null when it does not serve that chunk. */
        ByteBuffer get(String member, String sha256) throws IOException;
    }

    /** Where the counters stand; bytes are stored (wire) bytes. */
    public record Counters(long bytesFromCache, long bytesFromPeers, long bytesFromStore, long bytesServed,
            long chunksVerified, long chunksRejected, long peersDropped) {}

    /** A bad chunk from the store is fetched again this many times before the read fails. */
    static final int STORE_ATTEMPTS = 4;
    /** The longest a request waits for a fetch in flight (its own or a peer's); past it the fetch counts as failed. */
    static final long JOIN_TIMEOUT_S = 120;

    private final String self;
    private final Map<String, Manifest.Chunk> chunks = new HashMap<>();
    private final Path cacheDir;
    private final PeerTree tree;
    private final PeerClient peers;
    private final ChunkSource store;
    private final Semaphore storeSlots;
    private final LinkEmulator downlink;
    private final Map<String, CompletableFuture<ByteBuffer>> inFlight = new ConcurrentHashMap<>();
    private final Set<String> dropped = ConcurrentHashMap.newKeySet();
    private final AtomicLong fromCache = new AtomicLong(), fromPeers = new AtomicLong(), fromStore = new AtomicLong(),
            served = new AtomicLong(), verified = new AtomicLong(), rejected = new AtomicLong();

    /**
     * @param tree       the deployment's tree, or null to use no peers (the store only)
     * @param peers      how to ask a member; unused without a tree
     * @param storeConcurrency this node's cap on store requests at once
     * @param downlink   this node's receive link (applied to every chunk that arrives), or null for none
     */
    public TreeFetcher(String self, Manifest manifest, Path cacheDir, PeerTree tree, PeerClient peers, ChunkSource store,
            int storeConcurrency, LinkEmulator downlink) throws IOException {
        if (storeConcurrency < 1) throw new IllegalArgumentException("store concurrency must be 1 or more");
        this.self = self;
        for (Manifest.Chunk c : manifest.chunks()) {
            if (c != null) chunks.put(c.sha256(), c);
        }
        this.cacheDir = Files.createDirectories(cacheDir);
        this.tree = tree;
        this.peers = peers;
        this.store = store;
        this.storeSlots = new Semaphore(storeConcurrency, true);
        this.downlink = downlink;
    }

    public String self() {
        return self;
    }

    /** The chunk's verified stored bytes, for this node's own disk. */
    public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
        ByteBuffer cached = readCache(chunk.sha256());
        if (cached != null) {
            fromCache.addAndGet(cached.remaining());
            return cached;
        }
        return obtain(chunk);
    }

    /**
     * The chunk's verified stored bytes for another member: held, joined in flight, or pulled through; null when
     * the chunk is not part of this deployment's image.
     */
    public ByteBuffer serve(String sha256) throws IOException {
        Manifest.Chunk chunk = chunks.get(sha256);
        if (chunk == null) return null;
        ByteBuffer b = readCache(sha256);
        if (b == null) b = obtain(chunk);
        served.addAndGet(b.remaining());
        return b;
    }

    /** True when every chunk of the image is in this node's cache. */
    public boolean complete() {
        for (String sha : chunks.keySet()) {
            if (!Files.exists(cacheFile(sha))) return false;
        }
        return true;
    }

    public Counters counters() {
        return new Counters(fromCache.get(), fromPeers.get(), fromStore.get(), served.get(), verified.get(),
                rejected.get(), dropped.size());
    }

    /** A fetch of the chunk, started here or joined. */
    private ByteBuffer obtain(Manifest.Chunk chunk) throws IOException {
        String sha = chunk.sha256();
        CompletableFuture<ByteBuffer> mine = new CompletableFuture<>();
        CompletableFuture<ByteBuffer> running = inFlight.putIfAbsent(sha, mine);
        if (running != null) return join(running, sha);
        try {
            // A fetch that completed between the cache miss and the claim left its chunk in the cache.
            ByteBuffer b = readCache(sha);
            if (b == null) {
                b = fromTree(chunk);
                writeCache(sha, b);
            }
            mine.complete(b);
            return b.duplicate();
        } catch (IOException | RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(sha, mine);
        }
    }

    private static ByteBuffer join(CompletableFuture<ByteBuffer> running, String sha) throws IOException {
        try {
            return running.get(JOIN_TIMEOUT_S, TimeUnit.SECONDS).duplicate();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof IOException io ? io : new IOException(String.valueOf(c.getMessage()), c);
        } catch (TimeoutException e) {
            throw new IOException("chunk " + sha + " took more than " + JOIN_TIMEOUT_S + " s to arrive");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for chunk " + sha);
        }
    }

    private ByteBuffer fromTree(Manifest.Chunk chunk) throws IOException {
        String sha = chunk.sha256();
        List<String> ancestors = tree == null ? List.of() : tree.ancestors(self, sha);
        for (String p : ancestors) {
            if (dropped.contains(p)) continue;
            ByteBuffer b;
            try {
                b = peers.get(p, sha);
            } catch (IOException e) {
                dropped.add(p); // failed or unreachable: the next ancestor, never this one again
                continue;
            }
            if (b == null) continue;
            receive(b.remaining());
            if (ChunkVerifier.verified(chunk, b)) {
                verified.incrementAndGet();
                fromPeers.addAndGet(b.remaining());
                return b;
            }
            rejected.incrementAndGet();
            dropped.add(p); // a peer that lies once is not asked again for this deployment
        }
        for (int attempt = 1; attempt <= STORE_ATTEMPTS; attempt++) {
            ByteBuffer b;
            storeSlots.acquireUninterruptibly();
            try {
                b = store.fetch(chunk);
            } finally {
                storeSlots.release();
            }
            if (b == null) throw new IOException("chunk " + sha + " is missing from " + store.name());
            receive(b.remaining());
            fromStore.addAndGet(b.remaining());
            if (ChunkVerifier.verified(chunk, b)) {
                verified.incrementAndGet();
                return b;
            }
            rejected.incrementAndGet();
        }
        throw new IOException("chunk " + sha + " from " + store.name() + " failed its SHA-256 check " + STORE_ATTEMPTS + " times");
    }

    private void receive(long bytes) {
        if (downlink == null) return;
        long wait = downlink.delayNanos(bytes, System.nanoTime());
        if (wait > 0) LockSupport.parkNanos(wait);
    }

    private Path cacheFile(String sha) {
        return cacheDir.resolve(sha);
    }

    /** Only verified chunks are ever written, so what the cache holds needs no second check here. */
    private ByteBuffer readCache(String sha) throws IOException {
        try {
            return ByteBuffer.wrap(Files.readAllBytes(cacheFile(sha)));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private void writeCache(String sha, ByteBuffer b) throws IOException {
        Path tmp = cacheDir.resolve(sha + ".part-" + Thread.currentThread().threadId());
        try (var ch = Files.newByteChannel(tmp, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer d = b.duplicate();
            while (d.hasRemaining()) ch.write(d);
        }
        Files.move(tmp, cacheFile(sha), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}

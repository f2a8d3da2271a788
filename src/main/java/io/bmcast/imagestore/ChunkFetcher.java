package io.bmcast.imagestore;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import io.bmcast.storage.FetchPriority;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The one place a deployment's chunks are fetched and verified. Sources are asked in order: this node's
 * {@link ChunkCache}, the peers (nearest first), the store. Every answer passes {@link ChunkVerifier} before it is
 * used or kept; one that does not is counted, logged with its source and chunk, thrown away, and the chunk is asked
 * of the next source. A peer that sent a bad chunk is dropped for the rest of this deployment; a peer that fails
 * (unreachable, slow) is skipped for a while and the store answers instead.
 *
 * <p>The store is the origin every node falls back to, so requests to it are capped per process
 * ({@code storeConcurrency}, Dragonfly's back-to-source limit): a thousand nodes never reach it unthrottled. A
 * store that fails for a while (down, throttling) is retried with backoff until the caller's give-up; a chunk the
 * store does not hold is a permanent error naming the chunk, where it sits in the image, and the image. Concurrent
 * requests for one chunk share one fetch. Thread-safe.
 *
 * <p>With a {@link Builder#tree tree}, the peers are the members of the deployment (keyed by {@link ChunkSource#name})
 * and each chunk is asked only of this node's ancestors in that chunk's {@link PeerTree} (parent first), then the
 * store: the store sends each chunk about once however many members start together, and {@link #serve} answers the
 * members below this one (held, joined in flight, or pulled through this chain). Background fetches
 * ({@link FetchPriority}) take at most half the store slots, so a guest's read never waits behind a whole
 * background batch.
 */
public final class ChunkFetcher implements AutoCloseable {
    public static final int DEFAULT_STORE_CONCURRENCY = 8;
    /** A store that keeps sending a chunk that does not verify is broken for that chunk, not unlucky. */
    static final int MAX_STORE_REJECTS = 8;
    private static final long PEER_PENALTY_NS = 10_000_000_000L;
    private static final Logger LOG = System.getLogger("io.bmcast.imagestore");

    /** Where verified chunks came from and what was refused; bytes are stored bytes (what crossed the wire). */
    public record Counters(long bytesFromCache, long bytesFromPeers, long bytesFromStore, long chunksFromCache,
            long chunksFromPeers, long chunksFromStore, long chunksVerified, long rejectedFromCache,
            long rejectedFromPeers, long rejectedFromStore, long retries) {
        public long chunksRejected() {
            return rejectedFromCache + rejectedFromPeers + rejectedFromStore;
        }
    }

    private final String image;
    private final Manifest manifest;
    private final ChunkCache cache;
    private final List<ChunkSource> peers;
    private final ChunkSource store;
    private final Semaphore storeSlots;
    /** Background fetches hold one of these as well as a store slot: urgent ones always find half the slots. */
    private final Semaphore backgroundStoreSlots;
    private final String self;
    private final PeerTree tree;
    private final Map<String, ChunkSource> peersByName;
    private final Map<String, Integer> indexOfChunk = new java.util.HashMap<>();
    private final Duration giveUp;
    private final long backoffInitialNs;
    private final long backoffMaxNs;

    private final Map<String, CompletableFuture<Fetched>> inFlight = new ConcurrentHashMap<>();
    private final Set<ChunkSource> dropped = ConcurrentHashMap.newKeySet();
    private final Map<ChunkSource, Long> penalisedUntil = new ConcurrentHashMap<>();
    private final BitSet verifiedIndexes = new BitSet();

    private final AtomicLong bytesFromCache = new AtomicLong();
    private final AtomicLong bytesFromPeers = new AtomicLong();
    private final AtomicLong bytesFromStore = new AtomicLong();
    private final AtomicLong chunksFromCache = new AtomicLong();
    private final AtomicLong chunksFromPeers = new AtomicLong();
    private final AtomicLong chunksFromStore = new AtomicLong();
    private final AtomicLong rejectedFromCache = new AtomicLong();
    private final AtomicLong rejectedFromPeers = new AtomicLong();
    private final AtomicLong rejectedFromStore = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();

    private ChunkFetcher(Builder b) {
        this.image = b.image;
        this.manifest = b.manifest;
        this.cache = b.cache;
        this.peers = List.copyOf(b.peers);
        this.store = b.store;
        this.storeSlots = new Semaphore(b.storeConcurrency, true);
        this.backgroundStoreSlots = new Semaphore(Math.max(1, b.storeConcurrency / 2), true);
        this.peersByName = new java.util.LinkedHashMap<>();
        for (ChunkSource p : peers) peersByName.putIfAbsent(p.name(), p);
        this.self = b.self;
        if (b.self != null) {
            List<String> members = new ArrayList<>(peersByName.keySet());
            if (!members.contains(b.self)) members.add(b.self);
            this.tree = new PeerTree(members, b.complete);
        } else {
            this.tree = null;
        }
        for (int i = manifest.chunkCount() - 1; i >= 0; i--) {
            Manifest.Chunk c = manifest.chunk(i);
            if (c != null) indexOfChunk.put(c.sha256(), i);
        }
        this.giveUp = b.giveUp;
        this.backoffInitialNs = b.backoffInitial.toNanos();
        this.backoffMaxNs = b.backoffMax.toNanos();
    }

    /** A fetcher for {@code manifest}'s chunks; {@code image} names it in messages (its s3:// URI). */
    public static Builder builder(String image, Manifest manifest) {
        return new Builder(image, manifest);
    }

    public static final class Builder {
        private final String image;
        private final Manifest manifest;
        private ChunkCache cache;
        private final List<ChunkSource> peers = new ArrayList<>();
        private ChunkSource store;
        private int storeConcurrency = DEFAULT_STORE_CONCURRENCY;
        private Duration giveUp = Duration.ofMinutes(5);
        private String self;
        private Set<String> complete = Set.of();
        private Duration backoffInitial = Duration.ofMillis(100);
        private Duration backoffMax = Duration.ofSeconds(5);

        private Builder(String image, Manifest manifest) {
            this.image = Objects.requireNonNull(image, "image");
            this.manifest = Objects.requireNonNull(manifest, "manifest");
        }

        /** This node's cache: asked first, and keeps every chunk verified from elsewhere. Null for none. */
        public Builder cache(ChunkCache c) {
            this.cache = c;
            return this;
        }

        /** Peers to ask after the cache, nearest first. */
        public Builder peers(List<? extends ChunkSource> p) {
            peers.addAll(p);
            return this;
        }

        /**
         * Makes the peers a deployment's members, asked along each chunk's {@link PeerTree}: {@code self} is this
         * node's name in the peers' naming ({@link ChunkSource#name}), {@code complete} the members known to hold the
         * whole image (ranked first). Without it the peers are asked in the order given.
         */
        public Builder tree(String self, Set<String> complete) {
            this.self = Objects.requireNonNull(self, "self");
            this.complete = Set.copyOf(complete);
            return this;
        }

        /** The origin, asked last (required). */
        public Builder store(ChunkSource s) {
            this.store = s;
            return this;
        }

        public Builder storeConcurrency(int n) {
            if (n < 1) throw new IllegalArgumentException("the store concurrency must be at least 1, not " + n);
            this.storeConcurrency = n;
            return this;
        }

        /** How long a failing store is retried before a fetch fails (the mediator's {@code --give-up}). */
        public Builder giveUp(Duration d) {
            this.giveUp = Objects.requireNonNull(d, "giveUp");
            return this;
        }

        /** Backoff between store retries: {@code initial} doubling up to {@code max}. */
        public Builder backoff(Duration initial, Duration max) {
            this.backoffInitial = initial;
            this.backoffMax = max;
            return this;
        }

        public ChunkFetcher build() {
            Objects.requireNonNull(store, "a chunk fetcher needs the store");
            return new ChunkFetcher(this);
        }
    }

    public Manifest manifest() {
        return manifest;
    }

    public String image() {
        return image;
    }

    public ChunkCache cache() {
        return cache;
    }

    /**
     * The verified stored bytes of chunk {@code index} (position 0; a fresh view each call), or null for a hole.
     *
     * @throws IOException no source gave a chunk that verifies before the give-up, or the store lacks it
     */
    public ByteBuffer stored(int index) throws IOException {
        Manifest.Chunk c = manifest.chunk(index);
        if (c == null) return null;
        CompletableFuture<Fetched> mine = new CompletableFuture<>();
        CompletableFuture<Fetched> f = inFlight.putIfAbsent(c.sha256(), mine);
        if (f == null) {
            f = mine;
            try {
                mine.complete(fetchVerified(index, c));
            } catch (Throwable t) {
                mine.completeExceptionally(t);
            } finally {
                inFlight.remove(c.sha256(), mine);
            }
        }
        Fetched got;
        try {
            got = f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while fetching chunk " + index + " of " + image);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) throw io;
            if (cause instanceof RuntimeException r) throw r;
            if (cause instanceof Error err) throw err;
            throw new IOException(cause);
        }
        synchronized (verifiedIndexes) {
            verifiedIndexes.set(index);
        }
        return got.bytes.duplicate();
    }

    /** Chunk {@code index} as the image holds it ({@link Manifest#chunkLength} bytes, verified), or null for a hole. */
    public ByteBuffer decoded(int index) throws IOException {
        ByteBuffer s = stored(index);
        if (s == null) return null;
        return ChunkCodec.decode(manifest.chunk(index), s, manifest.chunkLength(index));
    }

    /**
     * For a member below this one: the verified stored bytes of the chunk named {@code sha256} (held, joined in
     * flight, or fetched through this node's chain first), or null when the image has no such chunk.
     */
    public ByteBuffer serve(String sha256, boolean background) throws IOException {
        Integer index = indexOfChunk.get(sha256);
        if (index == null) return null;
        try {
            return FetchPriority.run(background, () -> stored(index));
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** The peers to ask for {@code c}, in order: its ancestors in the tree, or the list as given. */
    private List<ChunkSource> peersFor(Manifest.Chunk c) {
        if (tree == null) return peers;
        List<ChunkSource> out = new ArrayList<>();
        for (String name : tree.ancestors(self, c.sha256())) {
            ChunkSource p = peersByName.get(name);
            if (p != null) out.add(p);
        }
        return out;
    }

    private record Fetched(ByteBuffer bytes) {}

    private String describe(int index, Manifest.Chunk c) {
        return "chunk " + c.sha256() + " (chunk " + index + " at offset " + manifest.chunkOffset(index) + ") of " + image;
    }

    private Fetched fetchVerified(int index, Manifest.Chunk c) throws IOException {
        if (cache != null) {
            ByteBuffer b = ask(cache, c);
            if (b != null) {
                if (ChunkVerifier.verified(c, b)) {
                    count(bytesFromCache, chunksFromCache, b);
                    return new Fetched(b);
                }
                reject(rejectedFromCache, cache, index, c);
                try {
                    cache.drop(c.sha256());
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "cannot remove a bad chunk from " + cache.dir() + ": " + e.getMessage());
                }
            }
        }
        for (ChunkSource peer : peersFor(c)) {
            if (dropped.contains(peer)) continue;
            Long until = penalisedUntil.get(peer);
            if (until != null && System.nanoTime() - until < 0) continue;
            ByteBuffer b;
            try {
                b = peer.fetch(c);
            } catch (IOException e) {
                penalisedUntil.put(peer, System.nanoTime() + PEER_PENALTY_NS);
                LOG.log(Level.INFO, peer.name() + " failed for " + describe(index, c) + ", asking the next source: " + e.getMessage());
                continue;
            }
            if (b == null) continue;
            if (ChunkVerifier.verified(c, b)) {
                count(bytesFromPeers, chunksFromPeers, b);
                keep(c, b);
                return new Fetched(b);
            }
            reject(rejectedFromPeers, peer, index, c);
            if (dropped.add(peer)) LOG.log(Level.WARNING, "dropped " + peer.name() + " for this deployment: it sent a chunk that does not verify");
        }
        return fromStore(index, c);
    }

    private ByteBuffer ask(ChunkCache cache, Manifest.Chunk c) {
        try {
            return cache.fetch(c);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot read " + c.sha256() + " from " + cache.dir() + ": " + e.getMessage());
            return null;
        }
    }

    private Fetched fromStore(int index, Manifest.Chunk c) throws IOException {
        long deadline = System.nanoTime() + giveUp.toNanos();
        int failures = 0;
        int rejects = 0;
        while (true) {
            ByteBuffer b;
            IOException failure = null;
            boolean background = FetchPriority.isBackground();
            try {
                if (background) backgroundStoreSlots.acquire();
                try {
                    storeSlots.acquire();
                } catch (InterruptedException e) {
                    if (background) backgroundStoreSlots.release();
                    throw e;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting to fetch " + describe(index, c));
            }
            try {
                b = store.fetch(c);
            } catch (IOException e) {
                b = null;
                failure = e;
            } finally {
                storeSlots.release();
                if (background) backgroundStoreSlots.release();
            }
            if (failure == null && b == null) {
                throw new StoreException(describe(index, c) + " is missing from the store (" + store.name() + ")", true, null);
            }
            if (failure == null) {
                if (ChunkVerifier.verified(c, b)) {
                    count(bytesFromStore, chunksFromStore, b);
                    keep(c, b);
                    return new Fetched(b);
                }
                reject(rejectedFromStore, store, index, c);
                if (++rejects >= MAX_STORE_REJECTS) {
                    throw new StoreException(describe(index, c) + " failed verification " + rejects + " times from the store: the stored object does not match its name", true, null);
                }
                retries.incrementAndGet();
                continue; // a flipped byte on the way: ask again at once
            }
            if (failure instanceof StoreException se && se.permanent()) throw se;
            failures++;
            long delay = Math.min(backoffMaxNs, backoffInitialNs << Math.min(failures - 1, 20));
            if (System.nanoTime() + delay - deadline > 0) {
                throw new StoreException("gave up on " + describe(index, c) + " after " + failures + " failed tries over "
                        + giveUp.toSeconds() + " s: " + failure.getMessage(), false, failure);
            }
            retries.incrementAndGet();
            if (failures == 1 || failures % 10 == 0) {
                LOG.log(Level.WARNING, "the store failed for " + describe(index, c) + " (try " + failures + "), retrying: " + failure.getMessage());
            }
            try {
                Thread.sleep(Duration.ofNanos(delay));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while retrying " + describe(index, c));
            }
        }
    }

    private void keep(Manifest.Chunk c, ByteBuffer verified) {
        if (cache == null) return;
        try {
            cache.keep(c, verified);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot keep chunk " + c.sha256() + " in " + cache.dir() + ": " + e.getMessage());
        }
    }

    private static void count(AtomicLong bytes, AtomicLong chunks, ByteBuffer b) {
        bytes.addAndGet(b.remaining());
        chunks.incrementAndGet();
    }

    private void reject(AtomicLong counter, ChunkSource from, int index, Manifest.Chunk c) {
        counter.incrementAndGet();
        LOG.log(Level.WARNING, "rejected " + describe(index, c) + " from " + from.name() + ": its bytes do not match its SHA-256");
    }

    /** The counters now. {@code chunksVerified}: distinct chunks of the image handed out verified so far. */
    public Counters counters() {
        long verified;
        synchronized (verifiedIndexes) {
            verified = verifiedIndexes.cardinality();
        }
        return new Counters(bytesFromCache.get(), bytesFromPeers.get(), bytesFromStore.get(), chunksFromCache.get(),
                chunksFromPeers.get(), chunksFromStore.get(), verified, rejectedFromCache.get(), rejectedFromPeers.get(),
                rejectedFromStore.get(), retries.get());
    }

    /** Peers dropped for sending bad chunks, by name. */
    public List<String> droppedPeers() {
        return dropped.stream().map(ChunkSource::name).sorted().toList();
    }

    /** Closes the peers and the store (not the cache, which other processes share). */
    @Override
    public void close() throws IOException {
        for (ChunkSource p : peers) p.close();
        store.close();
    }
}

package io.bmcast.node;

import io.bmcast.imagestore.ChunkCache;
import io.bmcast.imagestore.ChunkFetcher;
import io.bmcast.imagestore.ChunkSource;
import io.bmcast.imagestore.CorruptingSource;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.ManifestDigest;
import io.bmcast.imagestore.PeerList;
import io.bmcast.imagestore.StoreChunkSource;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreException;
import io.bmcast.imagestore.StoreExport;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.mediator.MediatorStatus;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

/**
 * A mediator's {@code s3://} image: the manifest, then a {@link StoreExport} over a {@link ChunkFetcher} (this
 * node's chunk cache, the peers, the store). The manifest is kept in the state dir the first time, so a mediator
 * restarted under a running guest serves what is local without the store, and its image stays the one it started
 * with even if the name is pushed again meanwhile (chunks are named by content, so the old ones are still there).
 */
final class StoreSource {
    /** The manifest this deployment streams, and the image it belongs to (first line) beside it. */
    static final String MANIFEST = NodeState.STORE_MANIFEST;
    static final String IMAGE = "store-image";

    private StoreSource() {}

    /** The export, and its identity for the state dir ("store image s3://... manifest SHA of N bytes"). */
    record Opened(StoreExport export, String identity, StoreLocation at, byte[] manifest) {
        /** Keeps the manifest in the state dir, once the state dir has accepted this image. */
        void keep(Path state) throws IOException {
            Path kept = state.resolve(MANIFEST);
            if (Files.isRegularFile(kept) && java.util.Arrays.equals(Files.readAllBytes(kept), manifest)) return;
            write(kept, manifest);
            write(state.resolve(IMAGE), (at.display() + "\n").getBytes(StandardCharsets.UTF_8));
        }

        MediatorStatus.Sources sources() {
            ChunkFetcher.Counters c = export.fetcher().counters();
            return new MediatorStatus.Sources(c.bytesFromCache(), c.bytesFromPeers(), c.bytesFromStore(), c.chunksVerified(),
                    c.chunksRejected(), c.retries());
        }
    }

    static Opened open(MediatorConfig c, String exportName, PrintStream log) throws IOException, InterruptedException {
        StoreLocation at = c.image().store();
        MediatorConfig.Store s = c.store();
        StoreClient client = StoreClient.open(at);
        try {
            byte[] json = manifestBytes(client, at, c.state(), c.giveUp(), log);
            // The pin, over the bytes this deployment will use (the store's now, or those kept in the state dir by an
            // earlier start), before they are parsed: nothing is served from a manifest that is not the one added.
            String digest = ManifestDigest.of(json);
            ManifestDigest.check(at, digest, s.manifestSha256());
            Manifest m = Manifest.parse(json, at.display());
            ChunkCache cache = s.chunkCache() == null ? null : ChunkCache.open(s.chunkCache(), s.cacheSize());
            PeerList peers = PeerList.read(s.peers());
            ChunkSource store = new StoreChunkSource(client, at);
            if (s.injectCorrupt() > 0) store = new CorruptingSource(store, s.injectCorrupt());
            ChunkFetcher.Builder b = ChunkFetcher.builder(at.display(), m).cache(cache).peers(peers.sources()).store(store)
                    .storeConcurrency(s.concurrency()).giveUp(c.giveUp());
            // self= in the peers file: the peers are the deployment's members, asked along each chunk's tree
            if (peers.self() != null) b.tree(peers.selfName(), peers.completeNames());
            ChunkFetcher fetcher = b.build();
            log.printf("node: %s: %d chunks of %s (%d holes), cache %s, %s, store concurrency %d%s%n", at.display(),
                    m.chunkCount(), Units.formatSize(m.chunkSize()), m.chunks().stream().filter(x -> x == null).count(),
                    cache == null ? "none" : cache.dir().toString(), peers.self() == null ? peers.peers().size() + " peers"
                            : (peers.peers().size() + 1) + " members in a tree per chunk (" + peers.complete().size() + " complete)",
                    s.concurrency(),
                    s.injectCorrupt() > 0 ? ", corrupting " + s.injectCorrupt() + " of store chunks (fault injection)" : "");
            String identity = "store image " + at.display() + " manifest " + digest + " of " + m.size() + " bytes";
            return new Opened(new StoreExport(exportName, fetcher), identity, at, json);
        } catch (IOException | RuntimeException | InterruptedException e) {
            client.close();
            throw e;
        }
    }

    /**
     * The manifest kept in the state dir for this image, else the store's (retried while the store is unreachable,
     * up to the give-up).
     */
    private static byte[] manifestBytes(StoreClient client, StoreLocation at, Path state, Duration giveUp, PrintStream log)
            throws IOException, InterruptedException {
        Path kept = state.resolve(MANIFEST);
        Path image = state.resolve(IMAGE);
        if (Files.isRegularFile(kept) && Files.isRegularFile(image)
                && Files.readString(image, StandardCharsets.UTF_8).strip().equals(at.display())) {
            return Files.readAllBytes(kept);
        }
        long start = System.nanoTime();
        long delayMs = 100;
        byte[] json;
        while (true) {
            try {
                json = client.manifestBytes(at);
                break;
            } catch (StoreException e) {
                long elapsed = System.nanoTime() - start;
                if (e.permanent() || elapsed + delayMs * 1_000_000 > giveUp.toNanos()) throw e;
                log.printf("node: %s; retrying%n", e.getMessage());
                Thread.sleep(delayMs);
                delayMs = Math.min(2000, delayMs * 2);
            }
        }
        if (json == null) throw new StoreException("there is no image " + at.display() + " in " + client.where() + " (no " + at.manifestKey() + ")", true, null);
        return json;
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, bytes);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}

package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.Sha256;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A member's chunks along the tree, with real peer servers over loopback HTTP and a store that counts its GETs. */
class TreeFetcherTest {
    static final String TOKEN = "t";
    @TempDir Path dir;

    /** A store holding the chunks in memory, counting what it sends. */
    static final class MemoryStore implements ChunkSource {
        final Map<String, byte[]> chunks = new HashMap<>();
        final AtomicInteger gets = new AtomicInteger();

        @Override
        public String name() {
            return "store memory";
        }

        @Override
        public ByteBuffer fetch(Manifest.Chunk c) {
            gets.incrementAndGet();
            byte[] b = chunks.get(c.sha256());
            return b == null ? null : ByteBuffer.wrap(b.clone());
        }
    }

    record Image(Manifest manifest, MemoryStore store) {}

    static Image image(int count) {
        MemoryStore store = new MemoryStore();
        List<Manifest.Chunk> chunks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] b = new byte[64 << 10];
            Arrays.fill(b, (byte) i);
            b[0] = (byte) (i * 7 + 1);
            String sha = Sha256.hex(ByteBuffer.wrap(b));
            store.chunks.put(sha, b);
            chunks.add(new Manifest.Chunk(sha, Manifest.Encoding.RAW, b.length));
        }
        return new Image(new Manifest((long) count << 16, 64 << 10, chunks, null, null, null, List.of(), null, null), store);
    }

    @Test
    void pullThroughAChainOfMembersTheStoreSendsEachChunkOnce() throws Exception {
        Image img = image(6);
        List<String> members = List.of("m0", "m1", "m2", "m3", "m4", "m5", "m6");
        PeerTree tree = new PeerTree(members);
        Map<String, URI> bases = new ConcurrentHashMap<>();
        TreeFetcher.PeerClient client = TreePeerServer.client(bases, TOKEN, Duration.ofSeconds(30));
        Map<String, TreeFetcher> fetchers = new HashMap<>();
        List<TreePeerServer> servers = new ArrayList<>();
        try {
            for (String m : members) {
                TreeFetcher f = new TreeFetcher(m, img.manifest(), dir.resolve(m), tree, client, img.store(), 2, null);
                fetchers.put(m, f);
                TreePeerServer s = TreePeerServer.start(f, TOKEN, null, 0, 1);
                servers.add(s);
                bases.put(m, s.base());
            }
            // Only the deepest member of each chunk's tree asks: its ancestors fetch through their own chains.
            for (Manifest.Chunk c : img.manifest().chunks()) {
                List<String> rank = tree.ranking(c.sha256());
                String leaf = rank.get(rank.size() - 1);
                ByteBuffer b = fetchers.get(leaf).fetch(c);
                assertTrue(ChunkVerifier.verified(c, b));
                for (String up : tree.ancestors(leaf, c.sha256())) {
                    assertTrue(java.nio.file.Files.exists(dir.resolve(up).resolve(c.sha256())), up + " holds it now (pull-through)");
                }
            }
            assertEquals(6, img.store().gets.get(), "each chunk left the store once");
        } finally {
            for (TreePeerServer s : servers) s.close();
        }
    }

    @Test
    void aDeadOrLyingParentIsDroppedAndTheChunkStillArrivesVerified() throws Exception {
        Image img = image(8);
        List<String> members = List.of("a", "b");
        PeerTree tree = new PeerTree(members);
        Map<String, URI> bases = new ConcurrentHashMap<>();
        TreeFetcher.PeerClient client = TreePeerServer.client(bases, TOKEN, Duration.ofSeconds(30));
        TreeFetcher a = new TreeFetcher("a", img.manifest(), dir.resolve("a"), tree, client, img.store(), 2, null);
        TreeFetcher b = new TreeFetcher("b", img.manifest(), dir.resolve("b"), tree, client, img.store(), 2, null);
        Map<String, TreeFetcher> byName = Map.of("a", a, "b", b);
        // The liar flips a byte in every answer.
        try (TreePeerServer sa = TreePeerServer.start(a, TOKEN, null, 0.999999, 1);
                TreePeerServer sb = TreePeerServer.start(b, TOKEN, null, 0.999999, 2)) {
            bases.put("a", sa.base());
            bases.put("b", sb.base());
            for (Manifest.Chunk c : img.manifest().chunks()) {
                String child = tree.ranking(c.sha256()).get(1);
                assertTrue(ChunkVerifier.verified(c, byName.get(child).fetch(c)));
            }
        }
        long rejected = a.counters().chunksRejected() + b.counters().chunksRejected();
        long dropped = a.counters().peersDropped() + b.counters().peersDropped();
        assertTrue(rejected >= 1 && dropped >= 1, a.counters() + " " + b.counters());
        assertEquals(rejected, dropped, "a liar is asked once, then dropped");
        // A parent that is gone: the child is dropped from nobody's tree but its own, and goes to the store.
        TreeFetcher c = new TreeFetcher("b", img.manifest(), dir.resolve("c"), tree, client, img.store(), 2, null);
        bases.put("a", URI.create("http://127.0.0.1:1"));
        for (Manifest.Chunk k : img.manifest().chunks()) assertTrue(ChunkVerifier.verified(k, c.fetch(k)));
        assertEquals(img.manifest().storedBytes(), c.counters().bytesFromStore());
        assertEquals(1, c.counters().peersDropped(), "the dead parent is tried once");
    }
}

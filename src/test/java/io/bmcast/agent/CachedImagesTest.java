package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.bmcast.imagestore.ChunkCache;
import io.bmcast.imagestore.Manifest;
import io.bmcast.util.Sha256;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's cached-images report (what the tracker ranks complete peers by) names an image only while the chunk
 * cache holds every chunk of it: a mediator's keep that makes the LRU evict part of an image takes it off the list, and
 * an agent restarted on the same cache says the same.
 */
class CachedImagesTest {
    static final int CHUNK = 64 << 10;

    @TempDir
    Path tmp;

    /** An image of {@code n} random raw chunks, kept in {@code cache} as a mediator keeps them; its manifest written to {@code file}. */
    static Manifest image(ChunkCache cache, int n, long seed, Path file) throws Exception {
        Random r = new Random(seed);
        List<Manifest.Chunk> chunks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] b = new byte[CHUNK];
            r.nextBytes(b);
            Manifest.Chunk c = new Manifest.Chunk(Sha256.hex(ByteBuffer.wrap(b)), Manifest.Encoding.RAW, CHUNK);
            cache.keep(c, ByteBuffer.wrap(b));
            chunks.add(c);
        }
        Manifest m = new Manifest((long) n * CHUNK, CHUNK, chunks, null, null, null, List.of(), null, null);
        Files.createDirectories(file.getParent());
        Files.write(file, m.toJson());
        return m;
    }

    @Test
    void anImageIsReportedOnlyWhileEveryChunkOfItIsCached() throws Exception {
        Path work = tmp.resolve("work");
        InetSocketAddress loopback = new InetSocketAddress("127.0.0.1", 0);
        try (Peering agent = Peering.open(work, 4L * CHUNK, loopback, null, null, null, 0)) {
            // a mediator of this node: its own view of the same directory, as another process has it
            ChunkCache mediator = ChunkCache.open(Peering.cacheDir(work), 4L * CHUNK);
            Manifest a = image(mediator, 3, 1, tmp.resolve("i-1/state/store-manifest.json"));
            agent.imageLocal("a", tmp.resolve("i-1/state/store-manifest.json"), "i-1");
            assertEquals(List.of("a"), agent.cachedImages());

            // a's chunks used longest ago; b's three make the cache evict two of them
            for (Manifest.Chunk c : a.chunks()) Files.setLastModifiedTime(mediator.path(c.sha256()), FileTime.fromMillis(1_000_000));
            image(mediator, 3, 2, tmp.resolve("i-2/state/store-manifest.json"));
            assertEquals(List.of(), agent.cachedImages(), "a lost chunks to the LRU: no longer a complete peer for it");
            agent.imageLocal("a", tmp.resolve("i-1/state/store-manifest.json"), "i-1");
            assertEquals(List.of(), agent.cachedImages(), "the same deployment's report does not bring it back");

            agent.imageLocal("b", tmp.resolve("i-2/state/store-manifest.json"), "i-2");
            assertEquals(List.of("b"), agent.cachedImages());
        }
        // the agent restarted on the same cache: the same list, checked against the cache
        try (Peering again = Peering.open(work, 4L * CHUNK, loopback, null, null, null, 0)) {
            assertEquals(List.of("b"), again.cachedImages());
        }
    }
}

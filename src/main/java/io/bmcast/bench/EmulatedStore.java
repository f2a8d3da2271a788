package io.bmcast.bench;

import io.bmcast.imagestore.ChunkSource;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.storage.LinkEmulator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The object store as every simulated node of {@code bench fanout} reaches it: one real S3 server behind ONE shared
 * emulated link (the store's egress; every node's GET queues on the same token bucket), counting what it sent, and
 * optionally flipping a byte in a share of its answers (the fault filter {@code --inject-corrupt}).
 */
final class EmulatedStore implements ChunkSource {
    private final StoreClient client;
    private final StoreLocation image;
    private final LinkEmulator link;
    private final double corruptRate;
    private final SplittableRandom random;
    final AtomicLong bytesSent = new AtomicLong();
    final AtomicLong requests = new AtomicLong();

    EmulatedStore(StoreClient client, StoreLocation image, LinkEmulator link, double corruptRate, long seed) {
        this.client = client;
        this.image = image;
        this.link = link;
        this.corruptRate = corruptRate;
        this.random = new SplittableRandom(seed);
    }

    @Override
    public String name() {
        return "store " + image.display();
    }

    @Override
    public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
        ByteBuffer b = client.get(image.chunkKey(chunk.sha256()));
        if (b == null) return null;
        requests.incrementAndGet();
        bytesSent.addAndGet(b.remaining());
        link.hold(b.remaining());
        if (corruptRate > 0 && b.remaining() > 0 && chance()) {
            byte[] copy = new byte[b.remaining()];
            b.duplicate().get(copy);
            copy[copy.length / 3] ^= 0x10;
            return ByteBuffer.wrap(copy);
        }
        return b;
    }

    private synchronized boolean chance() {
        return random.nextDouble() < corruptRate;
    }
}

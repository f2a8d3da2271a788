package io.bmcast.bench;

import io.bmcast.imagestore.ChunkSource;
import io.bmcast.imagestore.Manifest;
import io.bmcast.storage.LinkEmulator;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A simulated node's receive link in {@code bench fanout}: each chunk that reaches the node from {@code inner} (a
 * peer or the store) waits its turn on the node's emulated downlink before the fetcher sees it. It keeps the inner
 * source's name, which is how a deployment's tree knows its members.
 */
final class Downlink implements ChunkSource {
    private final ChunkSource inner;
    private final LinkEmulator link;

    Downlink(ChunkSource inner, LinkEmulator link) {
        this.inner = inner;
        this.link = link;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
        ByteBuffer b = inner.fetch(chunk);
        if (b != null) link.hold(b.remaining());
        return b;
    }

    /** The store is shared by every node: closing one node's link leaves it open. */
    @Override
    public void close() {}
}

package io.bmcast.imagestore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fault filter for tests and benches ({@code --inject-corrupt RATE}): flips one byte in that share of the chunks
 * another source returns, the way a bad disk, NIC or a hostile peer would. What it hands out must be rejected by
 * {@link ChunkVerifier} and never reach a guest.
 */
public final class CorruptingSource implements ChunkSource {
    private final ChunkSource inner;
    private final double rate;
    private final AtomicLong corrupted = new AtomicLong();

    public CorruptingSource(ChunkSource inner, double rate) {
        if (!(rate >= 0 && rate <= 1)) throw new IllegalArgumentException("a corruption rate is a share from 0 to 1, not " + rate);
        this.inner = inner;
        this.rate = rate;
    }

    @Override
    public String name() {
        return inner.name();
    }

    /** Chunks this filter has spoiled so far. */
    public long corrupted() {
        return corrupted.get();
    }

    @Override
    public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
        ByteBuffer b = inner.fetch(chunk);
        if (b == null || !b.hasRemaining() || ThreadLocalRandom.current().nextDouble() >= rate) return b;
        byte[] copy = new byte[b.remaining()];
        b.duplicate().get(copy);
        copy[ThreadLocalRandom.current().nextInt(copy.length)] ^= 0x40;
        corrupted.incrementAndGet();
        return ByteBuffer.wrap(copy);
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}

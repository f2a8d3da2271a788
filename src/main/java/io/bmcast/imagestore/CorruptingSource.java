package io.bmcast.imagestore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fault filter for tests and benches ({@code --inject-corrupt RATE}): flips one byte in that share of the chunks
 * another source returns, the way a bad disk, NIC or a hostile peer would. What it hands out must be rejected by
 * {@link ChunkVerifier} and never reach a guest.
 *
 * <p>The spoiled answers are spread evenly over the answers in order (at 0.5 every second one), not drawn at random:
 * a rate below 1 then never spoils the same chunk on every retry, so a run's outcome does not depend on luck.
 */
public final class CorruptingSource implements ChunkSource {
    private final ChunkSource inner;
    private final double rate;
    private final AtomicLong corrupted = new AtomicLong();
    private final AtomicLong answers = new AtomicLong();

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
        if (b == null || !b.hasRemaining()) return b;
        long n = answers.incrementAndGet();
        if ((long) Math.floor(n * rate) == (long) Math.floor((n - 1) * rate)) return b;
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

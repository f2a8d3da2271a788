package io.bmcast.imagestore;

import io.bmcast.util.Units;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counters of one push, pull or verify, updated by its workers and read by whoever shows progress. Time is passed
 * in ({@link #line}), so the text is the same function of the counters in a test as on a terminal.
 */
public final class TransferProgress {
    private final String verb;
    private final String moved;
    private volatile long total;
    private final AtomicLong done = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong skipped = new AtomicLong();

    /**
     * @param verb what is done ("push", "pull", "verify")
     * @param moved what the byte count means ("uploaded", "fetched")
     */
    public TransferProgress(String verb, String moved) {
        this.verb = verb;
        this.moved = moved;
    }

    void total(long chunks) {
        total = chunks;
    }

    /** One chunk finished: {@code movedBytes} crossed the network for it, or none when it was {@code skipped}. */
    void chunkDone(long movedBytes, boolean skippedAsPresent) {
        bytes.addAndGet(movedBytes);
        if (skippedAsPresent) skipped.incrementAndGet();
        done.incrementAndGet();
    }

    public long total() {
        return total;
    }

    public long done() {
        return done.get();
    }

    public long bytes() {
        return bytes.get();
    }

    public long skipped() {
        return skipped.get();
    }

    /** "push: 120/1024 chunks, 80.0 MiB uploaded, 40 already stored, 95.2 Mbit/s" after {@code elapsedNs}. */
    public String line(long elapsedNs) {
        double secs = Math.max(elapsedNs, 1) / 1e9;
        StringBuilder sb = new StringBuilder(verb).append(": ").append(done()).append('/').append(total).append(" chunks, ")
                .append(Units.formatSize(bytes())).append(' ').append(moved);
        if (skipped() > 0) sb.append(", ").append(skipped()).append(" already stored");
        sb.append(", ").append(Units.formatRate(bytes() / secs));
        sb.append(String.format(Locale.ROOT, ", %.0f s", secs));
        return sb.toString();
    }
}

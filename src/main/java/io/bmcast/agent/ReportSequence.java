package io.bmcast.agent;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The sequence numbers an agent puts on its reports. The controller applies a report only if its number is above
 * the last one it applied for the node, so the numbers must keep rising across the agent's restarts, or a
 * restarted agent would be ignored until it caught up.
 *
 * <p>Why a clock and a lease: a fresh sequence starts at the wall clock in microseconds, which is above anything
 * sent before as long as the agent sent fewer than a million reports a second (it sends a few) and the clock did not
 * step back. For the clock stepping back (a machine that booted with a wrong time), an agent with a work directory
 * also keeps a lease there, {@code WORK/report-seq}: the highest number it may use before writing a new lease. A
 * restarted agent starts above both, at the cost of one synced write per {@link #LEASE} reports. Hollow nodes keep
 * theirs in memory, seeded from the clock.
 *
 * <p>Not thread-safe: one agent loop (or one hollow node, under its lock) takes the numbers.
 */
final class ReportSequence {
    static final String FILE = "report-seq";
    static final long LEASE = 1_000_000;

    private final Path file;
    private long next;
    private long leasedUntil;

    private ReportSequence(Path file, long start) {
        this.file = file;
        this.next = start;
        this.leasedUntil = Long.MAX_VALUE;
    }

    /** Numbers from {@code clockMicros} on, in memory only. */
    static ReportSequence inMemory(long clockMicros) {
        return new ReportSequence(null, Math.max(1, clockMicros));
    }

    /** Numbers above both {@code clockMicros} and the lease kept in {@code dir}, with a new lease written now. */
    static ReportSequence open(Path dir, long clockMicros) throws IOException {
        long leased = 0;
        Path f = dir.resolve(FILE);
        try {
            leased = Long.parseLong(Files.readString(f, StandardCharsets.UTF_8).strip());
        } catch (NoSuchFileException e) {
            // never started here
        } catch (NumberFormatException e) {
            throw new IOException(f + " does not hold a number; remove it (the clock then seeds the sequence)", e);
        }
        ReportSequence s = new ReportSequence(f, Math.max(Math.max(1, clockMicros), leased + 1));
        s.lease();
        return s;
    }

    static long clockMicros() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    /** The next number, above every one taken before (here or by an earlier agent in the same directory). */
    long next() throws IOException {
        if (next >= leasedUntil) lease();
        return next++;
    }

    private void lease() throws IOException {
        if (file == null) return;
        long until = next + LEASE;
        Path tmp = file.resolveSibling(FILE + ".tmp");
        Files.writeString(tmp, until + "\n", StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        leasedUntil = until;
    }
}

package io.bmcast.controller;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The sequence number of the last report applied for each node, so that an older or equal one (delayed on the way,
 * or sent twice) is answered but never applied.
 *
 * <p>The check is made here, in memory, and the number is written to the node's row ({@code last_seq}) at most once
 * per {@link #PERSIST_EVERY_MS} per node: writing it at every report would turn every idle heartbeat, a read until
 * then, into a commit (a thousand hollow nodes: a thousand commits a second). The row is only a floor for a
 * restarted controller. That suffices because a report cannot outlive the process it was sent to, except one held
 * by a proxy in between for longer than the persistence interval; and an agent never resends an old report, it
 * numbers each one when it sends it.
 */
final class ReportOrder {
    static final long PERSIST_EVERY_MS = 10_000;

    /** Per node: the last applied number, and when (monotonic ms) it was last written to the row; 0: never. */
    private record Last(long seq, long persistedAtMs) {}

    private final ConcurrentHashMap<String, Last> last = new ConcurrentHashMap<>();

    /**
     * Whether {@code seq} is newer than the last applied for {@code node} (or than {@code storedSeq}, the row's
     * floor), recording it when it is. Atomic per node: of two reports racing, only a newer one is accepted.
     *
     * @return 0 when not newer (do not apply); 1 when newer; 2 when newer and due to be written to the row
     */
    int accept(String node, long seq, long storedSeq, long nowMs) {
        int[] verdict = {0};
        last.compute(node, (n, l) -> {
            long floor = Math.max(storedSeq, l == null ? 0 : l.seq());
            if (seq <= floor) return l;
            boolean persist = l == null || l.persistedAtMs() == 0 || nowMs - l.persistedAtMs() >= PERSIST_EVERY_MS;
            verdict[0] = persist ? 2 : 1;
            return new Last(seq, persist ? Math.max(nowMs, 1) : l.persistedAtMs());
        });
        return verdict[0];
    }

    /** A node given a new credential starts a new sequence (its row's {@code last_seq} was reset with it). */
    void forget(String node) {
        last.remove(node);
    }
}

package io.bmcast.controller;

import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The newest progress each instance's agent reported. The API reads it from here (live); the database gets
 * a copy at most every {@link #PERSIST_EVERY_MS} per instance, since progress changes on nearly every
 * heartbeat and losing two seconds of it to a crash costs nothing (the next heartbeat restores it).
 * The growth of the byte counts between reports is what the image servers sent: the fleet's bytes per second.
 */
public final class ProgressBoard {
    static final long PERSIST_EVERY_MS = 2_000;

    public record Progress(long bytesOnDemand, long bytesBackground, double fractionLocal) {}

    private record Entry(Progress progress, long persistedAtMs) {}

    private final ConcurrentHashMap<String, Entry> latest = new ConcurrentHashMap<>();
    private final RateWindow bytesFetched;

    public ProgressBoard(RateWindow bytesFetched) {
        this.bytesFetched = bytesFetched;
    }

    /** Records a report; true when it should be written to the database now. */
    public boolean report(String instanceId, Progress p, long nowMs) {
        boolean[] persist = new boolean[1];
        latest.compute(instanceId, (id, old) -> {
            if (old == null) {
                persist[0] = true;
                return new Entry(p, nowMs);
            }
            long grown = (p.bytesOnDemand() + p.bytesBackground()) - (old.progress.bytesOnDemand() + old.progress.bytesBackground());
            if (grown > 0) bytesFetched.add(nowMs, grown);
            persist[0] = !p.equals(old.progress) && nowMs - old.persistedAtMs >= PERSIST_EVERY_MS;
            return new Entry(p, persist[0] ? nowMs : old.persistedAtMs);
        });
        return persist[0];
    }

    public Optional<Progress> latest(String instanceId) {
        Entry e = latest.get(instanceId);
        return e == null ? Optional.empty() : Optional.of(e.progress);
    }

    public void forget(String instanceId) {
        latest.remove(instanceId);
    }
}

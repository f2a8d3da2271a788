package io.bmcast.controller;

import io.bmcast.fleet.ByteSources;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The newest progress each instance's agent reported. The API reads it from here (live); the database gets
 * a copy of what changed every {@link #PERSIST_EVERY_MS}, all instances in one transaction ({@link #takeChanged},
 * called by the reconciler), since progress changes on nearly every heartbeat and losing two seconds of it to a
 * crash costs nothing (the next heartbeat restores it). One write per instance per heartbeat was one commit each:
 * a thousand streaming instances made five hundred commits a second, on H2 each a write of the changed pages,
 * and the heartbeats that carry launches waited behind them.
 * The growth of the byte counts between reports is what the image servers sent: the fleet's bytes per second.
 */
public final class ProgressBoard {
    static final long PERSIST_EVERY_MS = 2_000;

    /** @param sources where the bytes came from (an image in the store); {@link ByteSources#NONE} otherwise */
    public record Progress(long bytesOnDemand, long bytesBackground, double fractionLocal, ByteSources sources) {
        public Progress(long bytesOnDemand, long bytesBackground, double fractionLocal) {
            this(bytesOnDemand, bytesBackground, fractionLocal, ByteSources.NONE);
        }
    }

    /** {@code reportedMs}: when an agent last reported it, so that one no agent reports any more can be dropped. */
    private record Entry(Progress progress, boolean changed, long reportedMs) {}

    private final ConcurrentHashMap<String, Entry> latest = new ConcurrentHashMap<>();
    private final RateWindow bytesFetched;

    public ProgressBoard(RateWindow bytesFetched) {
        this.bytesFetched = bytesFetched;
    }

    /** Records a report; the database gets it with the next {@link #takeChanged}. */
    public void report(String instanceId, Progress p, long nowMs) {
        latest.compute(instanceId, (id, old) -> {
            if (old == null) return new Entry(p, true, nowMs);
            long grown = (p.bytesOnDemand() + p.bytesBackground()) - (old.progress.bytesOnDemand() + old.progress.bytesBackground());
            if (grown > 0) bytesFetched.add(nowMs, grown);
            return new Entry(p, old.changed || !p.equals(old.progress), nowMs);
        });
    }

    /** The progress that changed since the last call, by instance: what to write to the database now. */
    public Map<String, Progress> takeChanged() {
        Map<String, Progress> out = new HashMap<>();
        for (String id : latest.keySet()) {
            latest.computeIfPresent(id, (k, e) -> {
                if (!e.changed) return e;
                out.put(k, e.progress);
                return new Entry(e.progress, false, e.reportedMs);
            });
        }
        return out;
    }

    public Optional<Progress> latest(String instanceId) {
        Entry e = latest.get(instanceId);
        return e == null ? Optional.empty() : Optional.of(e.progress);
    }

    public void forget(String instanceId) {
        latest.remove(instanceId);
    }

    /** The instances with an entry, for the retention sweep (which forgets those deleted or long silent). */
    public java.util.Set<String> instances() {
        return java.util.Set.copyOf(latest.keySet());
    }

    /** When {@code instanceId}'s progress was last reported (0 when it has none). */
    public long reportedMs(String instanceId) {
        Entry e = latest.get(instanceId);
        return e == null ? 0 : e.reportedMs;
    }

    public int size() {
        return latest.size();
    }
}

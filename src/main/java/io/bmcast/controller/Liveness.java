package io.bmcast.controller;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When each node was last heard from, in memory only: a database write per heartbeat for a thousand nodes
 * would be all the database does. What is lost on restart is restored by {@link #grace}: every known node
 * gets a whole timeout to be heard again before it counts as offline.
 */
public final class Liveness {
    /** Node name to the monotonic millisecond of its last heartbeat (or of the controller's start). */
    private final ConcurrentHashMap<String, Long> lastHeard = new ConcurrentHashMap<>();
    /** Nodes already reported offline, so the reconciler marks each once per outage. */
    private final ConcurrentHashMap<String, Boolean> reportedOffline = new ConcurrentHashMap<>();
    /** Wall-clock time of the last heartbeat, for display only. */
    private final ConcurrentHashMap<String, Long> lastHeartbeatWallMs = new ConcurrentHashMap<>();

    /** Starts every node of {@code names} with a fresh timeout, as if it had just been heard. */
    public void grace(Collection<String> names, long nowMs) {
        for (String n : names) lastHeard.putIfAbsent(n, nowMs);
    }

    public void heard(String node, long nowMs, long wallMs) {
        lastHeard.put(node, nowMs);
        lastHeartbeatWallMs.put(node, wallMs);
        reportedOffline.remove(node);
    }

    /** Nodes not heard from for longer than {@code timeoutMs} and not yet reported offline. */
    public List<String> silentSince(long nowMs, long timeoutMs) {
        List<String> out = new ArrayList<>();
        lastHeard.forEach((node, at) -> {
            if (nowMs - at > timeoutMs && !reportedOffline.containsKey(node)) out.add(node);
        });
        return out;
    }

    public void reportedOffline(String node) {
        reportedOffline.put(node, Boolean.TRUE);
    }

    /** The node was removed: it is no longer watched (heard again, it is a new registration). */
    public void forget(String node) {
        lastHeard.remove(node);
        reportedOffline.remove(node);
        lastHeartbeatWallMs.remove(node);
    }

    /** The wall-clock time of the node's last heartbeat since this controller started. */
    public OptionalLong lastHeartbeat(String node) {
        Long at = lastHeartbeatWallMs.get(node);
        return at == null ? OptionalLong.empty() : OptionalLong.of(at);
    }
}

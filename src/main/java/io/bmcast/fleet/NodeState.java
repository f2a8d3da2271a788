package io.bmcast.fleet;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * A node's (a machine's) lifecycle.
 *
 * <pre>
 *  (register) ─► scrubbing ─► available ─► busy ─► scrubbing ─► available
 *  any ─► offline (heartbeats stopped) ─► the state its agent reports when it is back
 *  scrubbing ─► failed (the scrub could not be verified: never offered to a tenant again until fixed)
 * </pre>
 *
 * A node is {@code available} only after its agent has verified its disk is scrubbed: no tenant ever
 * receives a node whose scrub was not verified.
 *
 * <p>Two operator flags sit beside the state, not in it, because they do not change what the machine does now:
 * <ul>
 * <li>{@code maintenance}: the node gets no new instance; what it runs keeps running, and it scrubs as usual.
 * <li>{@code must scrub}: an instance was forced off it ({@code destroy --force}), or the operator asked for a
 *     re-scrub ({@code node scrub}). It is {@code scrubbing} (or {@code offline} until its agent is back) and its
 *     agent is told to scrub; its agent's "clean" counts only after it has reported the scrub under way.
 * </ul>
 * A node is offered to a tenant only when it is {@code available}, not in maintenance and owes no scrub.
 */
public enum NodeState {
    AVAILABLE, BUSY, SCRUBBING, OFFLINE, FAILED;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static NodeState fromWire(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("unknown node state '" + s + "'");
        }
    }

    public Set<NodeState> next() {
        return switch (this) {
            case AVAILABLE -> EnumSet.of(BUSY, SCRUBBING, OFFLINE, FAILED);
            case BUSY -> EnumSet.of(SCRUBBING, OFFLINE, FAILED);
            case SCRUBBING -> EnumSet.of(AVAILABLE, BUSY, OFFLINE, FAILED);
            case OFFLINE -> EnumSet.of(AVAILABLE, BUSY, SCRUBBING, FAILED);
            case FAILED -> EnumSet.of(SCRUBBING, AVAILABLE, OFFLINE);
        };
    }

    public boolean canMoveTo(NodeState to) {
        return next().contains(to);
    }
}

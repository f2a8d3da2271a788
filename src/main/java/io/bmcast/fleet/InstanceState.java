package io.bmcast.fleet;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * An instance's lifecycle, and every transition it may take: the one table a reader needs.
 *
 * <pre>
 *  pending ─► scheduled ─► starting ─► streaming ─► devirtualized ─► stopped
 *     │           │           │            │              │             │
 *     └───────────┴───────────┴────────────┴──────────────┴─────────────┴─► destroying ─► scrubbing ─► deleted
 *  any live state ─► failed (with a reason) ─► destroying
 * </pre>
 *
 * Agents report what they observe, level-triggered, so a busy controller may see a phase skipped (scheduled,
 * then devirtualized): the table allows those forward jumps.
 *
 * {@code unknown} is never stored: it is what the API shows for an instance whose node stopped heartbeating,
 * because nobody knows whether its guest still runs.
 */
public enum InstanceState {
    PENDING, SCHEDULED, STARTING, STREAMING, DEVIRTUALIZED, STOPPED, DESTROYING, SCRUBBING, DELETED, FAILED, UNKNOWN;

    /** The name on the wire, in the CLI and on the dashboard. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static InstanceState fromWire(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("unknown instance state '" + s + "'");
        }
    }

    /** The states this one may move to. An illegal transition is an error, never a silent no-op. */
    public Set<InstanceState> next() {
        return switch (this) {
            case PENDING -> EnumSet.of(SCHEDULED, DESTROYING, DELETED, FAILED);
            // An agent whose reports of starting (and streaming) were lost or late, under load, reports the phase it
            // is in now: the controller catches up rather than leaving the instance scheduled for ever.
            case SCHEDULED -> EnumSet.of(STARTING, STREAMING, DEVIRTUALIZED, STOPPED, DESTROYING, FAILED);
            case STARTING -> EnumSet.of(STREAMING, DEVIRTUALIZED, STOPPED, DESTROYING, FAILED);
            case STREAMING -> EnumSet.of(DEVIRTUALIZED, STOPPED, DESTROYING, FAILED);
            case DEVIRTUALIZED -> EnumSet.of(STOPPED, DESTROYING, FAILED);
            case STOPPED -> EnumSet.of(DESTROYING, FAILED);
            case DESTROYING -> EnumSet.of(SCRUBBING, DELETED, FAILED);
            case SCRUBBING -> EnumSet.of(DELETED, FAILED);
            case FAILED -> EnumSet.of(DESTROYING, SCRUBBING, DELETED);
            case DELETED, UNKNOWN -> EnumSet.noneOf(InstanceState.class);
        };
    }

    public boolean canMoveTo(InstanceState to) {
        return next().contains(to);
    }

    /** The guest runs (or ran): what {@code launch --wait running} waits for. */
    public boolean isRunningOrLater() {
        return this == STREAMING || this == DEVIRTUALIZED || this == STOPPED;
    }

    /** On its way out or gone: destroy was asked. */
    public boolean isGoingAway() {
        return this == DESTROYING || this == SCRUBBING || this == DELETED;
    }

    /** States that hold a node. */
    public boolean holdsNode() {
        return this != PENDING && this != DELETED && this != UNKNOWN;
    }
}

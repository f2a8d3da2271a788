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
 *  failed ─► starting | streaming | devirtualized | stopped   (its agent reports the guest running after all)
 *  any but deleted ─► deleted by the operator's destroy --force (its node must be scrubbed before any reuse)
 * </pre>
 *
 * A failed instance whose agent later reports it running follows the report: a failure the controller inferred (a
 * deadline passed, a report went missing) is a guess from silence, and the agent's report is what it sees now. The
 * failure stays in the events and in the reason ("was failed: ..."), so nothing is hidden; a tenant who wants it
 * gone destroys it as any other.
 *
 * The states that wait for an agent ({@link #waitsForAgent()}) have deadlines (the controller's configuration): a
 * scheduled instance its node never takes, a start that never gets the guest running, a destroy or scrub its node
 * never confirms. On expiry the instance fails with a reason naming the deadline, except a destroy on an offline
 * node: its disk may still hold the tenant's data, so it stays visible with a reason until its agent is back or
 * the operator forces it out ({@link #canBeForced()}).
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
            case FAILED -> EnumSet.of(DESTROYING, SCRUBBING, DELETED, STARTING, STREAMING, DEVIRTUALIZED, STOPPED);
            case DELETED, UNKNOWN -> EnumSet.noneOf(InstanceState.class);
        };
    }

    public boolean canMoveTo(InstanceState to) {
        return next().contains(to);
    }

    /** A state that lasts only until an agent acts: it has a deadline. */
    public boolean waitsForAgent() {
        return this == SCHEDULED || this == STARTING || this == DESTROYING || this == SCRUBBING;
    }

    /** The operator's {@code destroy --force} may delete an instance in this state at once, whatever its node does. */
    public boolean canBeForced() {
        return this != DELETED && this != UNKNOWN;
    }

    /** The guest runs (or ran): what {@code launch --wait running} waits for. */
    public boolean isRunningOrLater() {
        return this == STREAMING || this == DEVIRTUALIZED || this == STOPPED;
    }

    /** On its way out or gone: destroy was asked. */
    public boolean isGoingAway() {
        return this == DESTROYING || this == SCRUBBING || this == DELETED;
    }

    /**
     * Its node shares its image with the other nodes deploying it (issue 13's peers): it is deploying the image now
     * (scheduled to streaming: its peer server passes chunks through its own fetch) or holds all of it (see
     * {@link #holdsWholeImage}). Scheduled and starting count too, so that nodes launched together see each other.
     */
    public boolean sharesImage() {
        return this == SCHEDULED || this == STARTING || this == STREAMING || holdsWholeImage();
    }

    /**
     * Its disk is local, so its node's chunk cache took in every chunk of the image (a cache smaller than the image
     * keeps the most recent ones: members asking it for an evicted chunk then go on to the store).
     */
    public boolean holdsWholeImage() {
        return this == DEVIRTUALIZED || this == STOPPED;
    }

    /** States that hold a node. */
    public boolean holdsNode() {
        return this != PENDING && this != DELETED && this != UNKNOWN;
    }
}

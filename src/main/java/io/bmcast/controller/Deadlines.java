package io.bmcast.controller;

import io.bmcast.fleet.InstanceState;
import java.time.Duration;
import java.util.Objects;

/**
 * How long an instance may stay in each state that waits for an agent ({@link InstanceState#waitsForAgent()}).
 * Generous by default: a deadline is a way out of a wedge, not a performance target. A scrub that reads back a
 * whole block device can take hours, hence the long scrubbing one.
 *
 * @param scheduled placed on a node whose agent has not taken it
 * @param starting taken, but the guest is not yet running
 * @param destroying destroy asked, but the node has not begun the scrub
 * @param scrubbing the node scrubs, but has not reported it verified
 */
public record Deadlines(Duration scheduled, Duration starting, Duration destroying, Duration scrubbing) {
    public static final Deadlines DEFAULTS = new Deadlines(Duration.ofMinutes(5), Duration.ofMinutes(15), Duration.ofMinutes(15),
            Duration.ofHours(24));

    public Deadlines {
        for (Duration d : new Duration[] {scheduled, starting, destroying, scrubbing}) {
            Objects.requireNonNull(d, "deadline");
            if (d.isNegative() || d.isZero()) throw new IllegalArgumentException("a deadline must be positive, not " + d);
        }
    }

    /** The same deadline for every waiting state (tests). */
    public static Deadlines all(Duration d) {
        return new Deadlines(d, d, d, d);
    }

    /** {@code 5m}, {@code 24h}, {@code 300ms}: as the controller's options are written. */
    static String show(Duration d) {
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0) return ms / 3_600_000 + "h";
        if (ms % 60_000 == 0) return ms / 60_000 + "m";
        if (ms % 1000 == 0) return ms / 1000 + "s";
        return ms + "ms";
    }

    /** The deadline of {@code state}; null for a state that waits for nobody. */
    public Duration of(InstanceState state) {
        return switch (state) {
            case SCHEDULED -> scheduled;
            case STARTING -> starting;
            case DESTROYING -> destroying;
            case SCRUBBING -> scrubbing;
            default -> null;
        };
    }
}

package io.bmcast.agent;

import io.bmcast.fleet.InstanceState;

/**
 * What a hollow node's instance would be doing at a given time: the phases and progress of a real deployment,
 * scripted. Time is passed in (nanoseconds, any origin), so the same instants always give the same answers.
 *
 * <pre>
 *  start ── starting ── readyAfter ── streaming ── localAfter ── devirtualized
 *  destroy ── scrubbing ── SCRUB_NS ── deleted
 * </pre>
 */
public record HollowTimeline(long readyAfterNs, long localAfterNs) {
    /** A 32 GiB sparse disk scrubs in about a tenth of a second (see {@link Scrubber}). */
    public static final long SCRUB_NS = 100_000_000L;
    /** The share of the image a booting guest reads before the background copy catches up. */
    static final double ON_DEMAND_SHARE = 0.1;

    public HollowTimeline {
        if (readyAfterNs < 0 || localAfterNs < readyAfterNs) throw new IllegalArgumentException("need 0 <= ready-after <= local-after");
    }

    /** @param destroyedAtNs when the destroy began, or {@link Long#MIN_VALUE} when it did not */
    public InstanceState phase(long startedAtNs, long destroyedAtNs, long nowNs) {
        if (destroyedAtNs != Long.MIN_VALUE) {
            return nowNs - destroyedAtNs < SCRUB_NS ? InstanceState.SCRUBBING : InstanceState.DELETED;
        }
        long t = nowNs - startedAtNs;
        if (t >= localAfterNs) return InstanceState.DEVIRTUALIZED;
        if (t >= readyAfterNs) return InstanceState.STREAMING;
        return InstanceState.STARTING;
    }

    /** The next instant at which {@link #phase} changes, or {@link Long#MAX_VALUE} when it no longer will. */
    public long nextChangeNs(long startedAtNs, long destroyedAtNs, long nowNs) {
        if (destroyedAtNs != Long.MIN_VALUE) {
            long done = destroyedAtNs + SCRUB_NS;
            return nowNs - done < 0 ? done : Long.MAX_VALUE;
        }
        long t = nowNs - startedAtNs;
        if (t < readyAfterNs) return startedAtNs + readyAfterNs;
        if (t < localAfterNs) return startedAtNs + localAfterNs;
        return Long.MAX_VALUE;
    }

    /** 0..1, growing linearly from the start until it is local. */
    public double fractionLocal(long startedAtNs, long nowNs) {
        if (localAfterNs == 0) return 1.0;
        return Math.clamp((double) (nowNs - startedAtNs) / localAfterNs, 0.0, 1.0);
    }

    /** @param allocatedBytes the image's data bytes: what the copy moves in all */
    public long bytesOnDemand(long allocatedBytes, long startedAtNs, long nowNs) {
        return (long) (allocatedBytes * ON_DEMAND_SHARE * fractionLocal(startedAtNs, nowNs));
    }

    public long bytesBackground(long allocatedBytes, long startedAtNs, long nowNs) {
        return (long) (allocatedBytes * (1 - ON_DEMAND_SHARE) * fractionLocal(startedAtNs, nowNs));
    }

    /**
     * The console a hollow guest prints: one line per phase it reached while it ran, and a power-off line once
     * destroyed. Only ever grows, as a real console log does, so the controller's offset into it stays valid.
     *
     * @param reached the phase the instance had reached when it stopped running (or now)
     */
    public static String console(String name, String instanceId, InstanceState reached, boolean destroyed) {
        StringBuilder b = new StringBuilder();
        b.append("hollow node ").append(name).append(": instance ").append(instanceId).append(" starting\n");
        if (reached == InstanceState.STREAMING || reached == InstanceState.DEVIRTUALIZED) {
            b.append("Linux version 6.1.0-hollow (simulated)\nBMCAST-READY\n");
        }
        if (reached == InstanceState.DEVIRTUALIZED) b.append("disk local, mediator gone\n");
        if (destroyed) b.append("reboot: Power down\n");
        return b.toString();
    }
}

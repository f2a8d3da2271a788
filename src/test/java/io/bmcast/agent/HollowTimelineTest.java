package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.InstanceState;
import org.junit.jupiter.api.Test;

/** A hollow instance goes through the real phases at the scripted instants; time is passed in. */
class HollowTimelineTest {
    static final long S = 1_000_000_000L;
    static final long NONE = Long.MIN_VALUE;
    final HollowTimeline t = new HollowTimeline(3 * S, 10 * S);

    @Test
    void phasesFollowTheScript() {
        long t0 = 1_000 * S;
        assertEquals(InstanceState.STARTING, t.phase(t0, NONE, t0));
        assertEquals(t0 + 3 * S, t.nextChangeNs(t0, NONE, t0));
        assertEquals(InstanceState.STREAMING, t.phase(t0, NONE, t0 + 3 * S));
        assertEquals(t0 + 10 * S, t.nextChangeNs(t0, NONE, t0 + 5 * S));
        assertEquals(InstanceState.DEVIRTUALIZED, t.phase(t0, NONE, t0 + 10 * S));
        assertEquals(Long.MAX_VALUE, t.nextChangeNs(t0, NONE, t0 + 11 * S));
        long td = t0 + 20 * S;
        assertEquals(InstanceState.SCRUBBING, t.phase(t0, td, td));
        assertEquals(InstanceState.DELETED, t.phase(t0, td, td + HollowTimeline.SCRUB_NS));
    }

    @Test
    void progressGrowsLinearlyToTheWholeImage() {
        long t0 = -5 * S; // any origin, even a negative nanoTime
        assertEquals(0.5, t.fractionLocal(t0, t0 + 5 * S), 1e-9);
        assertEquals(1.0, t.fractionLocal(t0, t0 + 50 * S), 1e-9);
        long all = 1_000_000;
        assertEquals(all, t.bytesOnDemand(all, t0, t0 + 10 * S) + t.bytesBackground(all, t0, t0 + 10 * S), 1);
        assertTrue(t.bytesBackground(all, t0, t0 + 2 * S) < t.bytesBackground(all, t0, t0 + 4 * S));
    }

    @Test
    void theConsoleOnlyGrows() {
        String a = HollowTimeline.console("n", "i", InstanceState.STARTING, false);
        String b = HollowTimeline.console("n", "i", InstanceState.STREAMING, false);
        String c = HollowTimeline.console("n", "i", InstanceState.DEVIRTUALIZED, false);
        String d = HollowTimeline.console("n", "i", InstanceState.DEVIRTUALIZED, true);
        assertTrue(b.startsWith(a) && c.startsWith(b) && d.startsWith(c) && d.length() > c.length());
        assertTrue(b.contains("BMCAST-READY"));
    }
}

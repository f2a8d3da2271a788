package io.bmcast.mediator;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.storage.TokenBucket;
import org.junit.jupiter.api.Test;

/** The hydrator's policies with time passed in: no sleeps, no clock. */
class PoliciesTest {
    private static final long MS = 1_000_000L, S = 1_000_000_000L;

    @Test
    void rateCapChargedAfterEachBatchHoldsTheAverageRate() {
        // The hydrator's use of the shared token bucket: charge a batch once moved, start the next when told.
        long rate = 10L << 20; // 10 MiB/s
        long batch = 1 << 20;
        TokenBucket b = new TokenBucket(rate, 100 * MS);
        long now = 0, next = 0, moved = 0;
        while (now < 10 * S) {
            now = Math.max(now, next);
            next = now + b.reserve(batch, now);
            moved += batch;
        }
        // Ten simulated seconds: the rate times ten, plus at most the burst and one batch.
        assertTrue(moved <= rate * 10 + rate / 10 + batch, "moved " + moved);
        assertTrue(moved >= rate * 10 - batch, "moved " + moved);
    }

    @Test
    void idlePolicyYieldsWhileGuestIoIsInFlightAndForTheQuietPeriod() {
        YieldPolicy p = YieldPolicy.whenIdle(2 * MS);
        assertTrue(p.mayRun(0, 0, Long.MIN_VALUE), "no guest I/O yet");
        assertFalse(p.mayRun(100 * S, 1, Long.MIN_VALUE), "a guest request in flight");
        assertFalse(p.mayRun(100 * S, 0, 100 * S - MS), "guest finished 1 ms ago");
        assertTrue(p.mayRun(100 * S, 0, 100 * S - 2 * MS));
        assertTrue(p.mayRun(-5 * S, 0, -6 * S), "nanoTime may be negative");
    }

    @Test
    void sharePolicyRunsAFractionOfTheTimeWhileTheGuestIsBusy() {
        YieldPolicy p = YieldPolicy.share(0.25, MS);
        long now = 0;
        long busy = 0;
        // The guest is always busy; the background copy gets batches of 10 ms.
        int batches = 0;
        while (now < 10 * S) {
            if (p.mayRun(now, 3, now)) {
                p.batchDone(now, now + 10 * MS);
                now += 10 * MS;
                busy += 10 * MS;
                batches++;
            } else {
                now += MS;
            }
        }
        double share = (double) busy / now;
        assertTrue(share > 0.23 && share <= 0.26, "share " + share + " over " + batches + " batches");
        assertTrue(p.mayRun(now, 0, now - 2 * MS), "an idle guest lets it run at once");
    }

    @Test
    void backoffDoublesToItsCapAndGivesUpOnlyWithALimit() {
        Backoff b = new Backoff(100 * MS, 2 * S, 0);
        assertEquals(100 * MS, b.delayNs(1));
        assertEquals(200 * MS, b.delayNs(2));
        assertEquals(1600 * MS, b.delayNs(5));
        assertEquals(2 * S, b.delayNs(6));
        assertEquals(2 * S, b.delayNs(1000));
        assertFalse(b.exhausted(1_000_000));
        Backoff limited = new Backoff(MS, S, 3);
        assertFalse(limited.exhausted(2));
        assertTrue(limited.exhausted(3));
    }
}

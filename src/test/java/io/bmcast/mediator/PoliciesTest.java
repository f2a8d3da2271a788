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
    void aBootsIdleGapsPayTheShareSoTheBusySpellsAreNeverInterrupted() {
        // A booting guest: 5 ms of reads, 5 ms of CPU work, over and over. The copy runs in every gap (5 ms
        // batches), so it has had half the time: its 20% costs the guest's busy spells nothing.
        YieldPolicy p = YieldPolicy.share(0.2, MS);
        int busyBatches = 0, idleBatches = 0;
        long lastIo = Long.MIN_VALUE;
        for (long now = 0; now < 10 * S; ) {
            boolean guestBusy = (now / (5 * MS)) % 2 == 0;
            if (guestBusy) lastIo = now;
            long last = guestBusy ? now : lastIo;
            int inFlight = guestBusy ? 1 : 0;
            if (p.mayRun(now, inFlight, last)) {
                if (guestBusy) busyBatches++;
                else idleBatches++;
                p.batchStarted(now);
                p.batchDone(now, now + 4 * MS);
                now += 4 * MS;
            } else {
                now += MS / 2;
            }
        }
        assertEquals(0, busyBatches, "batches taken from a guest that pauses anyway");
        assertTrue(idleBatches > 500, "idle batches " + idleBatches);
    }

    @Test
    void whileTheGuestIsBusyOnlyOneBatchIsInFlightAndAnIdleGuestLetsBothWorkersRun() {
        YieldPolicy.Share p = YieldPolicy.share(0.5, MS);
        long now = S;
        p.mayRun(now, 1, now); // starts the credit, owing MAX_CREDIT_NS
        now += (long) ((YieldPolicy.Share.MAX_CREDIT_NS + 5 * MS) / 0.5); // to a credit of 5 ms
        assertFalse(p.mayRun(now - 20 * MS, 1, now - 20 * MS), "still in debt");
        assertTrue(p.mayRun(now, 1, now), "credit earned while busy");
        p.batchStarted(now);
        assertFalse(p.mayRun(now, 1, now), "a second batch while the guest is busy");
        assertTrue(p.mayRun(now + 3 * MS, 0, now), "the guest went quiet");
        p.batchStarted(now + 3 * MS);
        p.batchDone(now, now + 5 * MS);
        p.batchDone(now + 3 * MS, now + 8 * MS);
        // Credit of 5 ms, two batches of 5 ms, 4 ms earned meanwhile: in debt, the busy guest is left alone again.
        assertFalse(p.mayRun(now + 8 * MS, 1, now + 8 * MS));
    }

    @Test
    void aLongQuietSpellBuysNoLongBurstAgainstTheNextBusySpell() {
        YieldPolicy.Share p = YieldPolicy.share(0.2, MS);
        long now = 0;
        p.mayRun(now, 0, Long.MIN_VALUE);
        now += 600 * S; // ten minutes with nothing to do (say, waiting on a stalled image server)
        long busyTime = 0;
        long start = now;
        while (now - start < 500 * MS) {
            if (p.mayRun(now, 1, now)) {
                p.batchStarted(now);
                p.batchDone(now, now + 5 * MS);
                busyTime += 5 * MS;
                now += 5 * MS;
            } else {
                now += MS;
            }
        }
        // 20% of 500 ms is 100 ms; the cap allows at most 50 ms more.
        assertTrue(busyTime <= 100 * MS + YieldPolicy.Share.MAX_CREDIT_NS + 5 * MS, "background time " + busyTime / MS + " ms");
    }

    @Test
    void aDeadlineRaisesTheShareAsTimeRunsOut() {
        HydrationDeadline d = new HydrationDeadline(100 * S, 0);
        double rate = 10 << 20; // 10 MiB/s while copying
        assertEquals(0.2, d.share(0, 0.2, 64L << 20, rate), 1e-9, "64 MiB in 100 s needs 8%: the minimum holds");
        assertEquals(1.25 * 640.0 / 1000, d.share(0, 0.2, 640L << 20, rate), 1e-9, "640 MiB needs 64% (and the margin)");
        assertEquals(1.0, d.share(0, 0.2, 10L << 30, rate), 1e-9, "more than the link can carry: all of it");
        assertEquals(1.0, d.share(100 * S, 0.2, 1, rate), 1e-9, "past the deadline");
        assertEquals(0.2, d.share(0, 0.2, 0, rate), 1e-9, "nothing left");
        assertEquals(0.2, d.share(0, 0.2, 64L << 20, 0), 1e-9, "not measured yet");
        assertEquals(50 * S, HydrationDeadline.projectedNs(0, 100L << 20, rate, 0.2));
    }

    @Test
    void aBusyGuestsDiskIsLocalByTheDeadlineThatTheMinimumShareAloneWouldMiss() {
        // 64 MiB at 10 MiB/s, a guest that never pauses: 20% alone takes 32 s; the deadline is 20 s.
        long deadline = 20 * S;
        HydrationDeadline d = new HydrationDeadline(deadline, 0);
        YieldPolicy.Share p = YieldPolicy.share(0.2, MS);
        long rate = 10 << 20, batch = 64 << 10;
        long batchNs = batch * S / rate;
        long remaining = 64L << 20;
        long now = 0, nextReview = 0;
        while (remaining > 0 && now < 60 * S) {
            if (now >= nextReview) {
                p.share(d.share(now, p.minShare(), remaining, rate));
                nextReview = now + 500 * MS;
            }
            if (p.mayRun(now, 2, now)) {
                p.batchStarted(now);
                p.batchDone(now, now + batchNs);
                remaining -= batch;
                now += batchNs;
            } else {
                now += MS;
            }
        }
        assertEquals(0, remaining, "copied by " + now / MS + " ms");
        assertTrue(now <= deadline, "local at " + now / MS + " ms, deadline " + deadline / MS + " ms");
        assertTrue(now > 10 * S, "the share rose only as needed, not to the whole link at once: local at " + now / MS + " ms");
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

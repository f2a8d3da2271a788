package io.bmcast.storage;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The link policy with time passed in: no sleeps. */
class LinkEmulatorTest {
    private static final long MS = 1_000_000;

    @Test
    void burstPassesThenTrafficIsPacedAtTheRate() {
        // 200 Mbit/s = 25 MB/s; 10 ms burst = 250 kB.
        TokenBucket b = TokenBucket.withDefaultBurst(25_000_000);
        long now = 1_000 * MS;
        assertEquals(0, b.reserve(200_000, now), "within the burst");
        long wait = b.reserve(1_000_000, now);
        // 1.2 MB reserved = 48 ms of link time, minus the 10 ms burst.
        assertEquals(38 * MS, wait);
        // Later, the backlog has drained in part.
        assertEquals(38 * MS - 20 * MS + 4 * MS, b.reserve(100_000, now + 20 * MS));
    }

    @Test
    void anIdleLinkDoesNotSaveUpMoreThanTheBurst() {
        TokenBucket b = TokenBucket.withDefaultBurst(125_000_000); // 1 Gbit/s
        long now = 5_000 * MS;
        b.reserve(1000, now);
        long later = now + 60_000 * MS; // a minute idle
        assertEquals(0, b.reserve(1_250_000, later)); // exactly 10 ms worth
        assertEquals(8 * MS, b.reserve(1_000_000, later));
    }

    @Test
    void concurrentRequestsEachWaitTheirOwnLatency() {
        LinkEmulator l = LinkEmulator.parse(null, "200us");
        long now = 77 * MS;
        for (int i = 0; i < 8; i++) assertEquals(200_000, l.delayNanos(1 << 20, now), "latency does not stack up");
        LinkEmulator both = LinkEmulator.parse("10Gbit", "1ms");
        assertEquals(MS, both.delayNanos(4096, now));
        assertFalse(both.isIdentity());
        assertTrue(LinkEmulator.parse(null, null).isIdentity());
    }

    @Test
    void sharedRateIsSplitAcrossRequests() {
        TokenBucket b = new TokenBucket(1_000_000, 0); // 1 MB/s, no burst
        long now = 0;
        assertEquals(10 * MS, b.reserve(10_000, now));
        assertEquals(20 * MS, b.reserve(10_000, now), "the second transfer queues behind the first");
        assertEquals(0, b.reserve(0, now + 20 * MS));
    }

    @Test
    void badValuesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> LinkEmulator.parse("fast", null));
        assertThrows(IllegalArgumentException.class, () -> LinkEmulator.parse(null, "soon"));
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(0, 0));
    }
}

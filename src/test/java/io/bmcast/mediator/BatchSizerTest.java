package io.bmcast.mediator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class BatchSizerTest {
    private static final long MS = 1_000_000L;

    @Test
    void startsSmallThenSizesBatchesToTheLinkTimeSharedByTheWorkers() {
        BatchSizer s = new BatchSizer(64 << 10, 2 << 20, 20 * MS, 2);
        assertEquals(256 << 10, s.batchBytes(), "nothing measured yet");
        // 100 Mbit/s: 12.5 MB/s; two batches in flight back to back, 125 KB in 10 ms each
        s.started(0);
        s.started(0);
        s.finished(10 * MS, 125_000);
        s.finished(20 * MS, 125_000);
        assertEquals(12.5e6, s.rate(), 1);
        assertEquals(125_000, s.batchBytes(), "20 ms of link over two workers");
    }

    @Test
    void aBusyGuestGetsSmallerBatchesAnIdleOneTheWholeTarget() {
        BatchSizer s = new BatchSizer(4096, 8 << 20, 20 * MS, 2);
        s.started(0);
        s.finished(10 * MS, 1_250_000); // 125 MB/s: 1 Gbit/s
        assertEquals(1_250_000, s.batchBytes(), "20 ms over two workers");
        assertEquals(125_000, s.batchBytes(2 * MS), "the guest was quiet 8 ms: 2 ms of link in flight");
        assertEquals(1_250_000, s.batchBytes(Long.MAX_VALUE), "never more than the target");
    }

    @Test
    void boundedByTheRegionAndTheLargestBatch() {
        BatchSizer fast = new BatchSizer(64 << 10, 2 << 20, 20 * MS, 2);
        fast.started(0);
        fast.finished(10 * MS, 100L << 20); // 10 GB/s
        assertEquals(2 << 20, fast.batchBytes());
        BatchSizer slow = new BatchSizer(64 << 10, 2 << 20, 20 * MS, 2);
        slow.started(0);
        slow.finished(1000 * MS, 100_000); // 100 kB/s
        assertEquals(64 << 10, slow.batchBytes());
    }

    @Test
    void idleTimeBetweenBatchesDoesNotCountAsLinkTime() {
        BatchSizer s = new BatchSizer(4096, 8 << 20, 20 * MS, 1);
        s.started(0);
        s.finished(10 * MS, 1_000_000);
        s.started(500 * MS); // the guest was busy in between: the hydrator yielded
        s.finished(510 * MS, 1_000_000);
        assertEquals(100e6, s.rate(), 1);
        assertEquals(2_000_000, s.batchBytes());
    }

    @Test
    void withoutATargetEveryBatchIsTheLargest() {
        BatchSizer s = new BatchSizer(4096, 4 << 20, 0, 2);
        s.started(0);
        s.finished(1000 * MS, 1000);
        assertEquals(4 << 20, s.batchBytes());
    }
}

package io.bmcast.mediator;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Copies the regions the guest has not needed yet, in the background, so that the disk becomes wholly
 * local and the mediator can step out.
 *
 * <p>Policy, each piece swappable and driven by time passed in ({@link #doWork(long)} is one duty cycle,
 * as in Aeron's agents):
 * <ul>
 *   <li>order: a recorded boot profile first, then ascending ({@link HydrationOrder});</li>
 *   <li>batches: consecutive ABSENT regions up to {@code batchBytes}, one source read (holes: none);</li>
 *   <li>guest first: a batch starts only when the {@link YieldPolicy} allows it;</li>
 *   <li>rate: at most {@code rateBytesPerSec} on average ({@link TokenBucket});</li>
 *   <li>errors: exponential {@link Backoff}; the disk's phase says STALLED and why; with a failure limit
 *       the hydrator stops, reports FAILED and fails {@link #finished()} — never silently.</li>
 * </ul>
 * When every region is present it commits, and {@link MediatedDisk#hydrated()} and {@link #finished()}
 * complete.
 */
public final class Hydrator implements AutoCloseable {

    /** Why the last duty cycle did what it did. Visible for testing. */
    enum Step { COPIED, YIELDED, RATE_LIMITED, BACKING_OFF, WAITING, FAILED, DONE }

    public record Options(long batchBytes, long rateBytesPerSec, YieldPolicy yieldPolicy, Backoff backoff,
            long commitIntervalNs, long pollNs) {

        /** 4 MiB batches, no rate cap, only when the guest has been quiet for 2 ms, standard backoff. */
        public static Options defaults() {
            return new Options(4 << 20, 0, YieldPolicy.whenIdle(2_000_000L), Backoff.standard(), 1_000_000_000L,
                    1_000_000L);
        }

        public Options withRate(long bytesPerSec) {
            return new Options(batchBytes, bytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs);
        }

        public Options withYieldPolicy(YieldPolicy p) {
            return new Options(batchBytes, rateBytesPerSec, p, backoff, commitIntervalNs, pollNs);
        }

        public Options withBackoff(Backoff b) {
            return new Options(batchBytes, rateBytesPerSec, yieldPolicy, b, commitIntervalNs, pollNs);
        }

        public Options withBatchBytes(long bytes) {
            return new Options(bytes, rateBytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs);
        }
    }

    private final MediatedDisk disk;
    private final Options options;
    private final LongSupplier clock;
    private final HydrationOrder order;
    private final TokenBucket bucket;
    private final int batchRegions;
    private final CompletableFuture<Void> finished = new CompletableFuture<>();
    private int failures;
    private long backoffUntilNs;
    private boolean backingOff;
    private long lastCommitNs;
    private Step lastStep;
    private volatile boolean running;
    private Thread thread;

    public Hydrator(MediatedDisk disk, Options options) {
        this(disk, options, System::nanoTime);
    }

    /** With an injected clock. Visible for testing. */
    Hydrator(MediatedDisk disk, Options options, LongSupplier clock) {
        this.disk = disk;
        this.options = options;
        this.clock = clock;
        this.order = new HydrationOrder(disk.profileOrder());
        long burst = Math.max(options.batchBytes(), options.rateBytesPerSec() / 10);
        this.bucket = new TokenBucket(options.rateBytesPerSec(), burst);
        this.batchRegions = (int) Math.max(1, options.batchBytes() / disk.regionSize());
        this.lastCommitNs = clock.getAsLong();
    }

    /** Completes when the disk is hydrated; fails when the hydrator gave up (failure limit reached). */
    public CompletableFuture<Void> finished() {
        return finished;
    }

    public synchronized void start() {
        if (thread != null) return;
        running = true;
        thread = Thread.ofPlatform().daemon().name("bmcast-hydrator-" + disk.name()).start(this::run);
    }

    private void run() {
        while (running) {
            long park = doWork(clock.getAsLong());
            if (lastStep == Step.DONE || lastStep == Step.FAILED) return;
            if (park > 0) LockSupport.parkNanos(this, park);
        }
    }

    /**
     * One duty cycle: copies at most one batch, or says why not. Returns how long to wait before the next
     * cycle (0: call again at once). Visible for testing.
     */
    long doWork(long nowNs) {
        if (finished.isDone() || disk.isClosed()) {
            lastStep = finished.isCompletedExceptionally() ? Step.FAILED : Step.DONE;
            return 0;
        }
        try {
            if (disk.completeIfHydrated()) {
                finished.complete(null);
                lastStep = Step.DONE;
                return 0;
            }
        } catch (IOException e) {
            return failed(nowNs, e);
        }
        if (backingOff && nowNs - backoffUntilNs < 0) {
            lastStep = Step.BACKING_OFF;
            return backoffUntilNs - nowNs;
        }
        if (!options.yieldPolicy().mayRun(nowNs, disk.guestInFlight(), disk.lastGuestIoNs())) {
            lastStep = Step.YIELDED;
            return options.pollNs();
        }
        long wait = bucket.delayNs(nowNs);
        if (wait > 0) {
            lastStep = Step.RATE_LIMITED;
            return wait;
        }
        RegionMap map = disk.map();
        int r = order.next(map);
        if (r < 0) {
            order.rewind();
            r = order.next(map);
        }
        if (r < 0) {
            lastStep = Step.WAITING; // the rest is being fetched by guest requests
            return options.pollNs();
        }
        long bytes;
        try {
            bytes = disk.hydrateRun(r, batchRegions);
        } catch (IOException e) {
            return failed(clock.getAsLong(), e);
        }
        long end = clock.getAsLong();
        bucket.consume(end, bytes);
        options.yieldPolicy().batchDone(nowNs, end);
        if (backingOff || failures > 0) {
            backingOff = false;
            failures = 0;
            disk.hydratorPhase(Phase.STREAMING, null);
        }
        if (end - lastCommitNs - options.commitIntervalNs() >= 0) {
            lastCommitNs = end;
            try {
                disk.commitIfChanged();
            } catch (IOException e) {
                return failed(end, e);
            }
        }
        lastStep = Step.COPIED;
        return 0;
    }

    private long failed(long nowNs, IOException e) {
        failures++;
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        if (options.backoff().exhausted(failures)) {
            disk.hydratorPhase(Phase.FAILED, "background copy gave up after " + failures + " failures: " + why);
            finished.completeExceptionally(e);
            lastStep = Step.FAILED;
            running = false;
            return 0;
        }
        long delay = options.backoff().delayNs(failures);
        backingOff = true;
        backoffUntilNs = nowNs + delay;
        disk.hydratorPhase(Phase.STALLED, "image server failing (" + failures + " in a row, retry in "
                + delay / 1_000_000 + " ms): " + why);
        lastStep = Step.BACKING_OFF;
        return delay;
    }

    Step lastStep() {
        return lastStep;
    }

    /** Stops the thread (a batch in flight completes). Does not close the disk. */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            running = false;
            t = thread;
            thread = null;
        }
        if (t == null) return;
        LockSupport.unpark(t);
        try {
            t.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

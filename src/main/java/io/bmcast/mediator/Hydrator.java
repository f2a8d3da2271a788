package io.bmcast.mediator;

import io.bmcast.storage.FetchPriority;
import io.bmcast.storage.TokenBucket;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
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
 *   <li>batches: consecutive ABSENT regions, one source read (holes: none), sized to a fixed link time
 *       ({@link BatchSizer}) so a guest request never waits long behind them, up to {@code batchBytes};</li>
 *   <li>pipeline: {@code workers} batches at a time, so the link is busy while the last batch is being written
 *       to the local disk (stop-and-wait left the link idle for that write: 4 MiB into the page cache took
 *       5-14 ms here against 34 ms on a 1 Gbit/s wire, and idle-time hydration ran at 68% of the link);</li>
 *   <li>guest first, progress guaranteed: a batch starts only when the {@link YieldPolicy} allows it; the node's
 *       policy ({@link YieldPolicy.Share}) runs freely while the guest is idle and takes a minimum share of the time
 *       from a guest that never pauses; a {@link HydrationDeadline} raises that share as the time left shrinks;</li>
 *   <li>CPU: the workers can run at a low priority ({@link ThreadPriority}, off by default: measured, it delayed
 *       boots here), except for boot-profile batches and while a deadline needs the whole link;</li>
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

    /**
     * @param batchBytes  the largest batch
     * @param batchTimeNs link time the batches in flight may take together ({@link BatchSizer}); 0: every batch is
     *                    {@code batchBytes}
     * @param workers     batches in flight at once
     */
    public record Options(long batchBytes, long rateBytesPerSec, YieldPolicy yieldPolicy, Backoff backoff,
            long commitIntervalNs, long pollNs, int workers, long batchTimeNs, HydrationDeadline deadline) {

        public Options {
            if (workers < 1) throw new IllegalArgumentException("workers < 1: " + workers);
        }

        public Options(long batchBytes, long rateBytesPerSec, YieldPolicy yieldPolicy, Backoff backoff,
                long commitIntervalNs, long pollNs) {
            this(batchBytes, rateBytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs, 1, 0, null);
        }

        /**
         * Batches of up to 2 MiB sized to 20 ms of link time, two at a time, no rate cap, only when the guest has been
         * quiet for 2 ms, standard backoff.
         */
        public static Options defaults() {
            return new Options(2 << 20, 0, YieldPolicy.whenIdle(QUIET_NS), Backoff.standard(), 1_000_000_000L,
                    1_000_000L, 2, 20_000_000L, null);
        }

        public Options withWorkers(int n) {
            return new Options(batchBytes, rateBytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs, n, batchTimeNs, deadline);
        }

        public Options withBatchTime(long ns) {
            return new Options(batchBytes, rateBytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs, workers, ns, deadline);
        }

        public Options withRate(long bytesPerSec) {
            return new Options(batchBytes, bytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs, workers, batchTimeNs, deadline);
        }

        public Options withYieldPolicy(YieldPolicy p) {
            return new Options(batchBytes, rateBytesPerSec, p, backoff, commitIntervalNs, pollNs, workers, batchTimeNs, deadline);
        }

        public Options withBackoff(Backoff b) {
            return new Options(batchBytes, rateBytesPerSec, yieldPolicy, b, commitIntervalNs, pollNs, workers, batchTimeNs, deadline);
        }

        /** Every batch {@code bytes} (no sizing by time). */
        public Options withBatchBytes(long bytes) {
            return new Options(bytes, rateBytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs, workers, 0, deadline);
        }

        /**
         * Entirely local by {@code d}: the share of a {@link YieldPolicy.Share} policy rises as needed (null: no
         * deadline). Meaningless with {@link YieldPolicy#whenIdle}, which has no share to raise.
         */
        public Options withDeadline(HydrationDeadline d) {
            return new Options(batchBytes, rateBytesPerSec, yieldPolicy, backoff, commitIntervalNs, pollNs, workers, batchTimeNs, d);
        }
    }

    /** How long the guest must have been quiet for it to count as idle. */
    public static final long QUIET_NS = 2_000_000L;
    /** How often the share is recomputed against the deadline and the status told about it. */
    private static final long REVIEW_NS = 500_000_000L;
    /** How long a worker that found nothing left to claim waits before looking again. */
    private static final long WAITING_NS = 10_000_000L;
    /**
     * The most regions of a hole one batch claims (and marks present, without transfer): a 32 GiB image that is
     * mostly holes takes a few batches instead of thousands, while a guest read of a region in the run waits only
     * for the marking.
     */
    static final int MAX_HOLE_REGIONS = 4096;
    /** How often a copy paused by a full local disk tries again. */
    private static final long LOCAL_FULL_RETRY_NS = 1_000_000_000L;

    private final MediatedDisk disk;
    private final Options options;
    private final LongSupplier clock;
    private final HydrationOrder order;
    /** The rate cap, or null for none; with {@link #nextBatchNs}, guarded by this. */
    private final TokenBucket bucket;
    private long nextBatchNs;
    private final BatchSizer sizer;
    private final CompletableFuture<Void> finished = new CompletableFuture<>();
    private int failures;
    private long backoffUntilNs;
    private boolean backingOff;
    private long lastCommitNs;
    private long nextReviewNs;
    private long bytesWhileBusy;
    /**
     * The workers' nice value for the bulk of the copy: {@link ThreadPriority#BACKGROUND_NICE} so that the guest's
     * vCPU wins the CPU, but 0 while a deadline is at risk (the share it needs is the whole link): then the
     * operator's deadline outranks the guest's CPU. Batches of the boot profile always run at 0: the booting guest
     * is about to read those regions and waits for a batch that claimed them, so a niced worker descheduled in the
     * middle of one would hold the boot up (a priority inversion). Each worker applies the value to itself (a nice
     * value is per thread) when it changes; lowering it again needs the privilege a mediator on a real host has, and
     * without it the worker just stays niced.
     */
    private volatile int wantedNice = ThreadPriority.BACKGROUND_NICE;
    /**
     * The nice value this worker thread last set ({@code Integer.MIN_VALUE}: none yet); unset in threads that are not
     * workers (a test calling {@link #doWork} must not nice itself).
     */
    private static final ThreadLocal<int[]> THREAD_NICE = new ThreadLocal<>();
    private volatile Step lastStep;
    private volatile boolean running;
    private final List<Thread> threads = new ArrayList<>();

    public Hydrator(MediatedDisk disk, Options options) {
        this(disk, options, System::nanoTime);
    }

    /** With an injected clock. Visible for testing. */
    Hydrator(MediatedDisk disk, Options options, LongSupplier clock) {
        this.disk = disk;
        this.options = options;
        this.clock = clock;
        this.order = new HydrationOrder(disk.profileOrder());
        // The cap's burst: one batch, or 100 ms of the rate if that is more.
        long rate = options.rateBytesPerSec();
        long burstBytes = Math.max(options.batchBytes(), rate / 10);
        this.bucket = rate <= 0 ? null : new TokenBucket(rate, (long) (burstBytes * 1e9 / rate));
        long region = disk.regionSize();
        this.sizer = new BatchSizer(region, Math.max(region, options.batchBytes()), options.batchTimeNs(), options.workers());
        this.lastCommitNs = clock.getAsLong();
        this.nextBatchNs = lastCommitNs;
        this.nextReviewNs = lastCommitNs;
        disk.hydrationReport(new MediatorStatus.Hydration(options.yieldPolicy().share(),
                options.deadline() == null ? 0 : options.deadline().epochMs(), 0, 0));
    }

    /**
     * How much link time the background batches in flight may take: a quarter of how long the guest has
     * been quiet, so a guest read that arrives meanwhile waits at most that long behind them. A booting guest
     * reads every few milliseconds between bursts of CPU work; a batch sized for an idle link (20 ms) put in
     * such a gap delays each of its next reads by up to 20 ms, which added ~0.7 s to a 2.2 s busybox boot at
     * 1 Gbit/s. An idle guest soon earns the full target, so the link stays full while it idles.
     */
    private long linkTimeAllowed(long nowNs) {
        long last = disk.lastGuestIoNs();
        if (last == Long.MIN_VALUE) return Long.MAX_VALUE;
        long quiet = Math.max(1_000_000L, (nowNs - last) / 4);
        if (disk.guestInFlight() == 0 && nowNs - last - QUIET_NS >= 0) return quiet;
        return Math.max(quiet, busyBatchNs(options.yieldPolicy().share()));
    }

    /**
     * The link time of a batch taken from a busy guest by its share: 6.25 ms at a share of 0.2, more as the share
     * rises (20 ms at 0.75). Each such batch delays the guest's requests behind it by up to its length once
     * per {@code length / share}; smaller batches would spend more of the share on round trips than on data.
     */
    static long busyBatchNs(double share) {
        if (share <= 0) return 0;
        return share >= 1 ? Long.MAX_VALUE : (long) (5_000_000L / (1 - share));
    }

    /** Completes when the disk is hydrated; fails when the hydrator gave up (failure limit reached). */
    public CompletableFuture<Void> finished() {
        return finished;
    }

    public synchronized void start() {
        if (!threads.isEmpty()) return;
        running = true;
        for (int i = 0; i < options.workers(); i++) {
            threads.add(Thread.ofPlatform().daemon().name("bmcast-hydrator-" + disk.name() + "-" + i).start(this::run));
        }
    }

    private void run() {
        THREAD_NICE.set(new int[] {Integer.MIN_VALUE});
        while (running) {
            long park;
            try {
                park = doWork(clock.getAsLong());
            } catch (RuntimeException | Error e) {
                // Never let a worker die silently (an OutOfMemoryError, say): count it as a failed batch.
                synchronized (this) {
                    park = failed(clock.getAsLong(), new IOException(e.getClass().getSimpleName() + ": " + e.getMessage(), e));
                }
            }
            if (lastStep == Step.DONE || lastStep == Step.FAILED) return;
            if (park > 0) LockSupport.parkNanos(this, park);
        }
    }

    /**
     * One duty cycle: copies at most one batch, or says why not. Returns how long to wait before the next
     * cycle (0: call again at once). Visible for testing.
     */
    long doWork(long nowNs) {
        // Deciding and accounting happen under this object's lock (order, bucket, backoff and the policy are
        // not thread-safe); the batch's I/O does not, so the workers overlap one's fetch with another's write.
        int first;
        int n;
        boolean guestBusy;
        boolean forBoot;
        synchronized (this) {
            if (finished.isDone() || disk.isClosed()) {
                lastStep = finished.isCompletedExceptionally() ? Step.FAILED : Step.DONE;
                return 0;
            }
            try {
                if (disk.completeIfHydrated()) {
                    review(nowNs);
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
            if (nowNs - nextReviewNs >= 0) {
                nextReviewNs = nowNs + REVIEW_NS;
                review(nowNs);
            }
            if (!options.yieldPolicy().mayRun(nowNs, disk.guestInFlight(), disk.lastGuestIoNs())) {
                lastStep = Step.YIELDED;
                // Each worker polls this often, so together they look every pollNs, however many there are: a host
                // of many mediators (the fanout bench runs 100 in one JVM) spent its CPU waking parked workers.
                return options.pollNs() * options.workers();
            }
            long wait = bucket == null ? 0 : nextBatchNs - nowNs;
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
                // The rest is being fetched by guest requests or the other workers: the worker that fills the last
                // region completes the copy itself, so nothing here is urgent (a failed fetch's regions are seen
                // ABSENT on the next look).
                lastStep = Step.WAITING;
                return WAITING_NS;
            }
            first = r;
            forBoot = order.inProfile(); // the order stays on a profile region until it is no longer ABSENT
            int regions = (int) Math.max(1, sizer.batchBytes(linkTimeAllowed(nowNs)) / disk.regionSize());
            int holes = disk.knownHoleRun(r, MAX_HOLE_REGIONS);
            if (holes > 0) regions = holes; // holes move no bytes: one batch marks a whole run present
            n = disk.claimRun(r, regions); // claimed under the lock: the next pick starts past this batch
            if (n == 0) {
                lastStep = Step.WAITING; // a guest request claimed it between the pick and the claim
                return 0;
            }
            sizer.started(nowNs);
            options.yieldPolicy().batchStarted(nowNs);
            long last = disk.lastGuestIoNs();
            guestBusy = disk.guestInFlight() > 0 || last != Long.MIN_VALUE && nowNs - last - QUIET_NS < 0;
        }
        niceThisThread(forBoot ? 0 : wantedNice);
        long bytes = 0;
        try {
            bytes = fill(first, n, !forBoot);
        } catch (IOException e) {
            synchronized (this) {
                return failed(clock.getAsLong(), e);
            }
        } finally {
            long doneNs = clock.getAsLong();
            sizer.finished(doneNs, bytes);
            synchronized (this) {
                options.yieldPolicy().batchDone(nowNs, doneNs);
            }
        }
        long end = clock.getAsLong();
        boolean commitDue;
        synchronized (this) {
            // Charged after the batch (holes cost nothing): the next may start once the link has "sent" it.
            if (bucket != null) nextBatchNs = end + bucket.reserve(bytes, end);
            if (guestBusy) bytesWhileBusy += bytes;
            if (backingOff || failures > 0) {
                backingOff = false;
                failures = 0;
                disk.hydratorPhase(Phase.STREAMING, null);
            }
            commitDue = end - lastCommitNs - options.commitIntervalNs() >= 0;
            if (commitDue) lastCommitNs = end;
            lastStep = Step.COPIED;
        }
        if (commitDue) {
            try {
                disk.commitIfChanged();
            } catch (IOException e) {
                synchronized (this) {
                    return failed(end, e);
                }
            }
        }
        return 0;
    }

    /**
     * Fills the claimed batch, its fetches marked {@link FetchPriority background} unless it is the boot profile's:
     * sources that rank requests (the store's slots, peers' upload slots) then let a guest's reads pass the copy, here
     * and on every peer the request travels through; the profile's batches are what a booting guest is about to read.
     */
    private long fill(int first, int n, boolean background) throws IOException {
        try {
            return FetchPriority.run(background, () -> disk.fillClaimed(first, n));
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    private static void niceThisThread(int nice) {
        int[] current = THREAD_NICE.get();
        if (current == null || current[0] == nice) return;
        current[0] = nice;
        ThreadPriority.niceCurrentThread(nice);
    }

    /**
     * Every {@link #REVIEW_NS}: raises the share as the deadline requires (the share policy only), and tells the
     * status the share in force and when the disk would be local if the guest stayed busy. Called under the lock.
     */
    private void review(long nowNs) {
        long remaining = disk.remainingBytesEstimate();
        double rate = sizer.rate();
        YieldPolicy p = options.yieldPolicy();
        HydrationDeadline d = options.deadline();
        if (d != null && p instanceof YieldPolicy.Share s) {
            s.share(d.share(nowNs, s.minShare(), remaining, rate));
            wantedNice = s.share() >= 1 ? 0 : ThreadPriority.BACKGROUND_NICE;
        }
        long projected = HydrationDeadline.projectedNs(nowNs, remaining, rate, p.share());
        long projectedEpochMs = projected == Long.MIN_VALUE ? 0 : System.currentTimeMillis() + (projected - nowNs) / 1_000_000;
        disk.hydrationReport(new MediatorStatus.Hydration(p.share(), d == null ? 0 : d.epochMs(), projectedEpochMs,
                bytesWhileBusy));
    }

    private long failed(long nowNs, IOException e) {
        failures++;
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        if (e instanceof LocalDiskFull) {
            // Not the image server's fault, and no reason to give up: wait for space, never counting it as a failure.
            failures--;
            long delay = LOCAL_FULL_RETRY_NS;
            backingOff = true;
            backoffUntilNs = nowNs + delay;
            disk.hydratorPhase(Phase.STALLED, "local disk full, background copy paused (retry every "
                    + delay / 1_000_000_000 + " s): " + why);
            lastStep = Step.BACKING_OFF;
            return delay;
        }
        String local = disk.localFailure();
        if (local != null) {
            // The local disk lost acknowledged data: no retry can make it whole again.
            disk.hydratorPhase(Phase.FAILED, "background copy stopped: " + local);
            finished.completeExceptionally(e);
            lastStep = Step.FAILED;
            running = false;
            return 0;
        }
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

    /** Stops the workers (batches in flight complete). Does not close the disk. */
    @Override
    public void close() {
        List<Thread> ts;
        synchronized (this) {
            running = false;
            ts = new ArrayList<>(threads);
            threads.clear();
        }
        for (Thread t : ts) LockSupport.unpark(t);
        try {
            for (Thread t : ts) t.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

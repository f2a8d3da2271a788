package io.bmcast.storage;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * A flaky export on purpose, in the manner of nbdkit's {@code error} and {@code delay} filters: what a
 * test or a benchmark puts between clients and a healthy export to show how they cope with a bad one.
 * Three kinds of fault, each off unless asked for ({@link Faults}):
 * <ul>
 *   <li>errors: a request fails with {@code EIO} at the given rate, without touching the inner export;
 *   <li>latency spikes: a request is held for the spike's duration first, at the spike rate;
 *   <li>a stall: from {@code stallAfter} after the first request, for {@code stallFor}, every request
 *       waits until the stall is over (the server answers nothing, as a hung disk or a saturated link).
 * </ul>
 * Every data request (read, write, trim, zeroing, cache, block status, flush) draws its faults; the
 * sequence is reproducible from the seed for one stream of requests. Never completes quickly: a held
 * request must not hold up the connection's other requests.
 */
public final class FaultInjectingExport extends FilterExport {

    /**
     * What to inject.
     *
     * @param errorRate fraction of requests failed with EIO, 0 to 1
     * @param spikeRate fraction of requests held for {@code spike}, 0 to 1
     * @param spike how long a latency spike holds a request
     * @param stallAfter when the stall starts, counted from the first request
     * @param stallFor how long the stall lasts ({@link Duration#ZERO}: no stall)
     * @param seed seed of the draws
     */
    public record Faults(double errorRate, double spikeRate, Duration spike, Duration stallAfter, Duration stallFor, long seed) {
        public Faults {
            if (!(errorRate >= 0 && errorRate <= 1)) throw new IllegalArgumentException("the error rate must be between 0 and 1");
            if (!(spikeRate >= 0 && spikeRate <= 1)) throw new IllegalArgumentException("the delay rate must be between 0 and 1");
            if (spike.isNegative() || stallAfter.isNegative() || stallFor.isNegative()) {
                throw new IllegalArgumentException("fault durations must not be negative");
            }
        }

        public static Faults none() {
            return new Faults(0, 0, Duration.ZERO, Duration.ZERO, Duration.ZERO, 1);
        }

        public Faults withErrors(double rate) {
            return new Faults(rate, spikeRate, spike, stallAfter, stallFor, seed);
        }

        public Faults withSpikes(double rate, Duration d) {
            return new Faults(errorRate, rate, d, stallAfter, stallFor, seed);
        }

        public Faults withStall(Duration after, Duration length) {
            return new Faults(errorRate, spikeRate, spike, after, length, seed);
        }

        public Faults withSeed(long s) {
            return new Faults(errorRate, spikeRate, spike, stallAfter, stallFor, s);
        }

        public boolean isNone() {
            return errorRate == 0 && (spikeRate == 0 || spike.isZero()) && stallFor.isZero();
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder();
            if (errorRate > 0) b.append(String.format(java.util.Locale.ROOT, "EIO on %.3g%% of requests", errorRate * 100));
            if (spikeRate > 0 && !spike.isZero()) {
                if (!b.isEmpty()) b.append(", ");
                b.append(String.format(java.util.Locale.ROOT, "%s delay on %.3g%% of requests", spike.toMillis() + " ms", spikeRate * 100));
            }
            if (!stallFor.isZero()) {
                if (!b.isEmpty()) b.append(", ");
                b.append("a stall of ").append(stallFor.toMillis()).append(" ms after ").append(stallAfter.toMillis()).append(" ms");
            }
            return b.isEmpty() ? "no faults" : b.toString();
        }
    }

    private final Faults faults;
    private final LongSupplier nanoClock;
    private final Random random; // thread-safe; one draw sequence for all requests
    private final AtomicLong firstRequestNs = new AtomicLong(Long.MIN_VALUE);
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong spikes = new AtomicLong();
    private final AtomicLong stalled = new AtomicLong();

    public FaultInjectingExport(Export inner, Faults faults) {
        this(inner, faults, System::nanoTime);
    }

    /** Visible for testing: {@code nanoClock} is the time the stall is measured by. */
    FaultInjectingExport(Export inner, Faults faults, LongSupplier nanoClock) {
        super(inner);
        this.faults = faults;
        this.nanoClock = nanoClock;
        this.random = new Random(faults.seed());
    }

    public Faults faults() {
        return faults;
    }

    /** Requests failed with EIO so far. */
    public long errorsInjected() {
        return errors.get();
    }

    /** Requests held by a latency spike so far. */
    public long spikesInjected() {
        return spikes.get();
    }

    /** Requests held by the stall so far. */
    public long requestsStalled() {
        return stalled.get();
    }

    /** Applies this request's faults: waits out a stall and a spike, then fails it or lets it through. */
    private void inject(String what) throws IOException {
        long now = nanoClock.getAsLong();
        firstRequestNs.compareAndSet(Long.MIN_VALUE, now);
        if (!faults.stallFor().isZero()) {
            long start = firstRequestNs.get() + faults.stallAfter().toNanos();
            long end = start + faults.stallFor().toNanos();
            if (now - start >= 0 && end - now > 0) {
                stalled.incrementAndGet();
                sleepUntil(end);
            }
        }
        double spikeDraw;
        double errorDraw;
        synchronized (random) {
            spikeDraw = random.nextDouble();
            errorDraw = random.nextDouble();
        }
        if (spikeDraw < faults.spikeRate() && !faults.spike().isZero()) {
            spikes.incrementAndGet();
            sleepUntil(nanoClock.getAsLong() + faults.spike().toNanos());
        }
        if (errorDraw < faults.errorRate()) {
            errors.incrementAndGet();
            throw new NbdException(Nbd.EIO, "injected error on " + what);
        }
    }

    private void sleepUntil(long deadline) throws InterruptedIOException {
        long left;
        while ((left = deadline - nanoClock.getAsLong()) > 0) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) throw new InterruptedIOException("fault injection interrupted");
        }
    }

    @Override
    public boolean completesQuickly(long offset, long length) {
        return faults.isNone() && inner.completesQuickly(offset, length);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        inject("read");
        inner.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        inject("write");
        inner.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        inject("flush");
        inner.flush();
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        inject("trim");
        inner.trim(offset, length, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        inject("write zeroes");
        inner.writeZeroes(offset, length, noHole, fast, fua);
    }

    @Override
    public void cache(long offset, long length) throws IOException {
        inject("cache");
        inner.cache(offset, length);
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        inject("block status");
        inner.blockStatus(offset, length, sink);
    }

    @Override
    public String toString() {
        return "FaultInjectingExport[" + faults + "]";
    }
}

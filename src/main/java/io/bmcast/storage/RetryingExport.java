package io.bmcast.storage;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Retries the reads of a flaky source until a give-up time, as nbdkit's {@code retry} filter does: an
 * image server that answers a read with {@code EIO} now and then (a bad disk sector that reads on the
 * second try, an overloaded object store, a proxy restarting) costs the guest a delay, not an I/O error.
 * Only when a read has not succeeded within {@code giveUpNs} of its start does it fail with EIO, the
 * same bound the NBD client keeps for a server it cannot reach ({@code node --give-up}).
 *
 * <p>Retried: reads and block status (the block status only while nothing of it was reported yet), on
 * EIO, ENOMEM, ESHUTDOWN or an I/O error of the connection. Not retried: what the server refuses for
 * good (EINVAL, EPERM, ENOSPC, ...), an interrupt, and writes (a source the mediator reads is never
 * written).
 */
public final class RetryingExport extends FilterExport {
    private static final long FIRST_DELAY_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long MAX_DELAY_NS = TimeUnit.SECONDS.toNanos(2);

    private final long giveUpNs;
    private final LongSupplier nanoClock;

    public RetryingExport(Export inner, long giveUpNs) {
        this(inner, giveUpNs, System::nanoTime);
    }

    RetryingExport(Export inner, long giveUpNs, LongSupplier nanoClock) {
        super(inner);
        this.giveUpNs = giveUpNs;
        this.nanoClock = nanoClock;
    }

    @FunctionalInterface
    private interface Attempt {
        void run() throws IOException;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int position = dst.position();
        retry("read at " + offset + "+" + dst.remaining(), () -> {
            dst.position(position); // a failed attempt may have filled part of it
            inner.read(offset, dst);
        }, () -> true);
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        boolean[] reported = {false};
        retry("block status at " + offset + "+" + length, () -> inner.blockStatus(offset, length, (len, flags) -> {
            reported[0] = true;
            return sink.extent(len, flags);
        }), () -> !reported[0]);
    }

    private void retry(String what, Attempt attempt, java.util.function.BooleanSupplier retryable) throws IOException {
        long start = nanoClock.getAsLong();
        long delay = FIRST_DELAY_NS;
        for (int attempts = 1; ; attempts++) {
            IOException failure;
            try {
                attempt.run();
                return;
            } catch (InterruptedIOException e) {
                throw e;
            } catch (NbdException e) {
                if (!transientError(e.error())) throw e;
                failure = e;
            } catch (IOException e) {
                failure = e;
            }
            long elapsed = nanoClock.getAsLong() - start;
            if (!retryable.getAsBoolean() || elapsed >= giveUpNs) {
                if (attempts == 1) throw failure;
                throw new NbdException(Nbd.EIO, what + " still failing after " + attempts + " attempts in "
                        + TimeUnit.NANOSECONDS.toMillis(elapsed) + " ms: " + failure.getMessage(), failure);
            }
            LockSupport.parkNanos(Math.min(delay, giveUpNs - elapsed)); // the last try comes at the give-up time
            if (Thread.interrupted()) throw new InterruptedIOException(what + " interrupted between retries");
            delay = Math.min(MAX_DELAY_NS, 2 * delay);
        }
    }

    private static boolean transientError(int error) {
        return error == Nbd.EIO || error == Nbd.ENOMEM || error == Nbd.ESHUTDOWN;
    }

    @Override
    public String toString() {
        return "RetryingExport[" + inner + ", give up after " + TimeUnit.NANOSECONDS.toMillis(giveUpNs) + " ms]";
    }
}

package io.bmcast.storage;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * A read-only export whose size is already known but whose backing export (the image server) may not be
 * reachable yet: it is opened in the background, retried with backoff, and calls wait for it.
 *
 * <p>Why: a mediator restarted under a running guest while the image server is also down knows the image
 * size from its state dir; with this source it serves every region already local at once, and only reads
 * of missing regions wait for the server, with the same bound as a reconnect ({@code giveUpNs}): past it
 * they fail with EIO, as the NBD client does when a live connection's server stays away.
 */
public final class DeferredExport implements ReadOnlyExport {

    /** Opens the backing export; a {@link Permanent} failure stops the retries. */
    @FunctionalInterface
    public interface Opener {
        Export open() throws IOException;
    }

    /** A failure that retrying cannot cure (the server answered and refused). */
    public static final class Permanent extends IOException {
        public Permanent(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static final long LATE_WAIT_NS = TimeUnit.MILLISECONDS.toNanos(500);

    private final String name;
    private final long size;
    private final long giveUpNs;
    private final LongSupplier clock;
    private final long createdNs;
    private final CompletableFuture<Export> delegate = new CompletableFuture<>();
    private final Thread opener;
    private volatile String lastError = "not connected yet";

    public DeferredExport(String name, long size, long giveUpNs, Opener open) {
        this(name, size, giveUpNs, open, System::nanoTime);
    }

    // Visible for testing
    DeferredExport(String name, long size, long giveUpNs, Opener open, LongSupplier clock) {
        this.name = name;
        this.size = size;
        this.giveUpNs = giveUpNs;
        this.clock = clock;
        this.createdNs = clock.getAsLong();
        this.opener = Thread.ofVirtual().name("deferred-open-" + name).start(() -> openLoop(open));
    }

    private void openLoop(Opener open) {
        long delayMs = 100;
        while (!delegate.isDone()) {
            try {
                Export e = open.open();
                if (e.size() != size) {
                    e.close();
                    delegate.completeExceptionally(new NbdException(Nbd.EIO, "the image server now has an export of "
                            + e.size() + " bytes where " + size + " were expected"));
                } else if (!delegate.complete(e)) {
                    e.close(); // closed meanwhile
                }
                return;
            } catch (Permanent p) {
                delegate.completeExceptionally(new NbdException(Nbd.EIO, p.getMessage(), p));
                return;
            } catch (IOException e) {
                lastError = e.getMessage();
            }
            // Backoff, cut short by a caller who is waiting (see delegate()).
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(delayMs));
            if (Thread.currentThread().isInterrupted()) return;
            delayMs = Math.min(2000, delayMs * 2);
        }
    }

    /** The backing export, waiting for it until {@code giveUpNs} after this export was created. */
    private Export delegate() throws IOException {
        try {
            Export d = delegate.getNow(null);
            if (d != null) return d;
            // Past the give-up time a caller still gets one prompt retry: it wakes the opener and waits
            // briefly, so the first read after the image server returns does not fail needlessly.
            long left = Math.max(createdNs + giveUpNs - clock.getAsLong(), LATE_WAIT_NS);
            LockSupport.unpark(opener);
            return delegate.get(left, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw unreachable();
        } catch (CompletionException | ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            throw new NbdException(Nbd.EIO, String.valueOf(e.getCause()), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NbdException(Nbd.EIO, "interrupted while waiting for the image server");
        }
    }

    private NbdException unreachable() {
        return new NbdException(Nbd.EIO, "image server for '" + name + "' unreachable: " + lastError);
    }

    /** True once the backing export is open. */
    public boolean connected() {
        return delegate.isDone() && !delegate.isCompletedExceptionally();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        delegate().read(offset, dst);
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        delegate().blockStatus(offset, length, sink);
    }

    @Override
    public void close() throws IOException {
        opener.interrupt();
        if (!delegate.completeExceptionally(new NbdException(Nbd.ESHUTDOWN, "closed")) && connected()) {
            delegate.join().close();
        }
    }
}

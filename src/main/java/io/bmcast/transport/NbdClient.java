package io.bmcast.transport;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.protocol.ProtocolException;
import io.bmcast.protocol.RequestHeader;
import io.bmcast.protocol.SimpleReplyHeader;
import io.bmcast.protocol.StructuredReplyHeader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * A pipelined NBD client that survives server restarts.
 *
 * <h2>Pipelining</h2>
 * Any number of threads (virtual threads welcome) may call at once. Each call takes one of
 * {@link Options#maxInFlight} request slots (waiting if all are taken), writes its header and payload with
 * one gathering write under {@link #writeLock}, then parks until the connection's reader thread has matched
 * the reply by cookie. The reader places {@code OFFSET_DATA} chunks straight into the caller's buffer at
 * their offset (large ones read from the socket into it without a copy), zero-fills {@code OFFSET_HOLE}s and
 * turns {@code ERROR} chunks into {@link NbdException}s. Slots, their headers and conditions are allocated
 * once: the steady state allocates nothing per request.
 *
 * <h2>Reconnect</h2>
 * When the connection drops (EOF, reset, a protocol violation, or no byte received for
 * {@link Options#stallTimeout} while requests are outstanding), the requests it carried go back to QUEUED
 * and a supervisor reconnects with {@link ReconnectBackoff}, redoes the handshake, checks that the export
 * still has the same size, and resends every QUEUED request (reads are idempotent, and so are the writes of
 * a mediator that owns its target). New requests queue meanwhile. Once the outage has lasted
 * {@link Options#giveUpAfter}, queued requests fail with {@code NbdException(EIO)} and new ones fail at once
 * (as QEMU's {@code reconnect-delay} does), while the supervisor keeps trying in the background; the first
 * successful reconnect restores normal service. A request is never answered with partial data: it completes
 * only when its whole range was covered by one reply on one connection.
 *
 * <h2>Ownership of a request (the rule that makes resending safe)</h2>
 * A request is FREE, QUEUED (waiting for a connection), SENT on connection C, or DONE. Only C's reader
 * thread moves a request out of SENT(C) — on its reply, or when C dies, as the reader's last act, done while
 * holding {@link #writeLock} after closing C. So while a request is SENT(C), C's reader is the only thread
 * that writes into its buffer, and no other connection can have it until C's reader has stopped. All writes
 * to any socket happen under that one lock, and a sender writes a request only if it is still SENT on the
 * sender's connection: a stale sender can neither interleave with a resend nor touch a buffer whose request
 * has already been handed back to its caller.
 */
public final class NbdClient implements AutoCloseable {

    /** Tunables; {@link #defaults()} suits an image server on a LAN. */
    public record Options(
            int maxInFlight,
            Duration giveUpAfter,
            Duration stallTimeout,
            Duration connectTimeout,
            ReconnectBackoff backoff,
            LongSupplier nanoClock,
            TlsCredentials tls) {

        public Options {
            if (maxInFlight < 1 || maxInFlight > 65536) throw new IllegalArgumentException("maxInFlight must be 1..65536");
            Objects.requireNonNull(giveUpAfter);
            Objects.requireNonNull(stallTimeout);
            Objects.requireNonNull(connectTimeout);
            Objects.requireNonNull(backoff);
            Objects.requireNonNull(nanoClock);
        }

        public static Options defaults() {
            return new Options(64, Duration.ofSeconds(60), Duration.ofSeconds(30), Duration.ofSeconds(10),
                    new ReconnectBackoff(Duration.ofMillis(50), Duration.ofSeconds(2)), System::nanoTime, null);
        }

        public Options maxInFlight(int n) {
            return new Options(n, giveUpAfter, stallTimeout, connectTimeout, backoff, nanoClock, tls);
        }

        public Options giveUpAfter(Duration d) {
            return new Options(maxInFlight, d, stallTimeout, connectTimeout, backoff, nanoClock, tls);
        }

        public Options stallTimeout(Duration d) {
            return new Options(maxInFlight, giveUpAfter, d, connectTimeout, backoff, nanoClock, tls);
        }

        public Options connectTimeout(Duration d) {
            return new Options(maxInFlight, giveUpAfter, stallTimeout, d, backoff, nanoClock, tls);
        }

        public Options backoff(ReconnectBackoff b) {
            return new Options(maxInFlight, giveUpAfter, stallTimeout, connectTimeout, b, nanoClock, tls);
        }

        /** The credentials an {@code nbds://} URI is connected with (ignored for {@code nbd://}). */
        public Options tls(TlsCredentials credentials) {
            return new Options(maxInFlight, giveUpAfter, stallTimeout, connectTimeout, backoff, nanoClock, credentials);
        }
    }

    /** A snapshot for status output. */
    public record Status(boolean connected, long reconnects, int inFlight, int queued, Duration disconnectedFor, String lastError) {}

    /** One export named by the server's export list. */
    public record ListedExport(String name, String description) {}

    private static final int FREE = 0, QUEUED = 1, SENT = 2, DONE = 3;
    private static final long SUPERVISOR_TICK_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long CLOSE_DRAIN_NS = TimeUnit.SECONDS.toNanos(5);
    /** Trim, zero and cache lengths are split at 1 GiB: aligned for any block size, below the u32 limit. */
    private static final long MAX_RANGE = 1L << 30;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();

    private final NbdUri uri;
    private final Options options;
    private final LongSupplier clock;
    private final long exportSize;

    /** Guards request states, {@link #current}, the free list and the outage fields below. */
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition slotFreed = lock.newCondition();
    private final Condition supervisorWake = lock.newCondition();
    private final Condition drained = lock.newCondition();
    /** Serialises every write to every socket, so a request's header and payload go out contiguously. */
    private final ReentrantLock writeLock = new ReentrantLock();

    private final Request[] requests;
    private final int[] free;
    private int freeCount;
    private Connection current;
    private boolean closed;
    private long outageStartNs;       // when the current outage began; meaningful while current == null
    private boolean failFast;         // the outage outlasted giveUpAfter: fail new requests at once
    private long reconnects;
    private long connectionIds;
    private String lastError = "";
    private volatile ExportInfo info;
    private final Thread supervisor;

    private NbdClient(NbdUri uri, Options options, Connection first) {
        this.uri = uri;
        this.options = options;
        this.clock = options.nanoClock();
        this.exportSize = first.info.size();
        this.info = first.info;
        int n = options.maxInFlight();
        requests = new Request[n];
        free = new int[n];
        for (int i = 0; i < n; i++) {
            requests[i] = new Request(i, lock.newCondition());
            free[i] = n - 1 - i;
        }
        freeCount = n;
        current = first;
        first.client = this;
        first.startReader();
        supervisor = Thread.ofVirtual().name("nbd-supervisor " + uri).unstarted(this::supervise);
    }

    /** Connects and negotiates; the first connection's failures are thrown (no retry). */
    public static NbdClient connect(NbdUri uri) throws IOException {
        return connect(uri, Options.defaults());
    }

    public static NbdClient connect(NbdUri uri, Options options) throws IOException {
        Objects.requireNonNull(uri);
        Connection first = openConnection(uri, options, 0, null);
        NbdClient c = new NbdClient(uri, options, first);
        c.supervisor.start();
        return c;
    }

    /** The exports the server lists (OPT_LIST), within 10 s. */
    public static List<ListedExport> list(Endpoint endpoint) throws IOException {
        return list(endpoint, Options.defaults().connectTimeout());
    }

    public static List<ListedExport> list(Endpoint endpoint, Duration timeout) throws IOException {
        return list(endpoint, timeout, null);
    }

    /** The exports the server lists, asked inside TLS when {@code tls} is not null. */
    public static List<ListedExport> list(Endpoint endpoint, Duration timeout, TlsCredentials tls) throws IOException {
        AtomicBoolean timedOut = new AtomicBoolean();
        try (SocketChannel ch = endpoint.open()) {
            Thread watchdog = closeAfter(ch, timeout, timedOut);
            try {
                ch.connect(endpoint.address());
                List<ListedExport> out = new ArrayList<>();
                for (ClientHandshake.Listed l : new ClientHandshake(ch, tls, endpoint).list()) out.add(new ListedExport(l.name(), l.description()));
                return out;
            } catch (IOException e) {
                if (timedOut.get()) throw new IOException("listing exports of " + endpoint + " timed out after " + timeout.toMillis() + " ms", e);
                throw e;
            } finally {
                watchdog.interrupt();
            }
        }
    }

    /** A virtual thread that closes {@code ch} after {@code timeout} unless interrupted first. */
    private static Thread closeAfter(SocketChannel ch, Duration timeout, AtomicBoolean timedOut) {
        return Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(timeout);
                timedOut.set(true);
                closeQuietly(ch);
            } catch (InterruptedException e) {
                // finished in time
            }
        });
    }

    public NbdUri uri() {
        return uri;
    }

    /** What the most recent handshake learned. */
    public ExportInfo info() {
        return info;
    }

    public long size() {
        return exportSize;
    }

    public boolean connected() {
        lock.lock();
        try {
            return current != null;
        } finally {
            lock.unlock();
        }
    }

    public long reconnects() {
        lock.lock();
        try {
            return reconnects;
        } finally {
            lock.unlock();
        }
    }

    public Status status() {
        lock.lock();
        try {
            int inFlight = 0, queued = 0;
            for (Request r : requests) {
                if (r.state == SENT) inFlight++;
                else if (r.state == QUEUED) queued++;
            }
            Duration down = current == null ? Duration.ofNanos(clock.getAsLong() - outageStartNs) : Duration.ZERO;
            return new Status(current != null, reconnects, inFlight, queued, down, lastError);
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------------ commands

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset}. On success the buffer's position reaches its
     * limit; on failure the position is unchanged and the contents between position and limit are undefined.
     */
    public void read(long offset, ByteBuffer dst) throws IOException {
        int len = dst.remaining();
        checkRange(offset, len);
        int start = dst.position(), limit = dst.limit();
        int max = info.maximumBlockSize();
        boolean ok = false;
        try {
            for (int done = 0; done < len; ) {
                int n = Math.min(max, len - done);
                execute(Nbd.CMD_READ, 0, offset + done, n, dst, start + done, null);
                done += n;
            }
            ok = true;
        } finally {
            dst.limit(limit).position(ok ? limit : start);
        }
    }

    /** Writes {@code src.remaining()} bytes at {@code offset}; on success the position reaches the limit. */
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        ExportInfo i = info;
        if (i.readOnly()) throw new NbdException(Nbd.EPERM, "export '" + i.name() + "' is read-only");
        int len = src.remaining();
        checkRange(offset, len);
        int flags = fua && i.canFua() ? Nbd.CMD_FLAG_FUA : 0;
        int start = src.position(), limit = src.limit();
        boolean ok = false;
        try {
            for (int done = 0; done < len; ) {
                int n = Math.min(i.maximumBlockSize(), len - done);
                execute(Nbd.CMD_WRITE, flags, offset + done, n, src, start + done, null);
                done += n;
            }
            ok = true;
        } finally {
            src.limit(limit).position(ok ? limit : start);
        }
        if (fua && !i.canFua()) flush();
    }

    /** Makes completed writes durable; a no-op when the server does not advertise FLUSH. */
    public void flush() throws IOException {
        if (!info.canFlush()) return;
        execute(Nbd.CMD_FLUSH, 0, 0, 0, null, 0, null);
    }

    public void trim(long offset, long length, boolean fua) throws IOException {
        ExportInfo i = info;
        if (i.readOnly()) throw new NbdException(Nbd.EPERM, "export '" + i.name() + "' is read-only");
        if (!i.canTrim()) throw new NbdException(Nbd.ENOTSUP, "server does not support TRIM");
        rangeCommand(Nbd.CMD_TRIM, fua && i.canFua() ? Nbd.CMD_FLAG_FUA : 0, offset, length);
        if (fua && !i.canFua()) flush();
    }

    /**
     * Makes a range read as zeros. {@code noHole}: keep it allocated. {@code fast}: fail with ENOTSUP
     * rather than let the server fall back to writing zeros slowly.
     */
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        ExportInfo i = info;
        if (i.readOnly()) throw new NbdException(Nbd.EPERM, "export '" + i.name() + "' is read-only");
        if (!i.canWriteZeroes()) throw new NbdException(Nbd.ENOTSUP, "server does not support WRITE_ZEROES");
        if (fast && !i.canFastZero()) throw new NbdException(Nbd.ENOTSUP, "server does not support fast zero");
        int flags = (noHole ? Nbd.CMD_FLAG_NO_HOLE : 0) | (fast ? Nbd.CMD_FLAG_FAST_ZERO : 0) | (fua && i.canFua() ? Nbd.CMD_FLAG_FUA : 0);
        rangeCommand(Nbd.CMD_WRITE_ZEROES, flags, offset, length);
        if (fua && !i.canFua()) flush();
    }

    /** Asks the server to prefetch a range; a no-op when it does not advertise CACHE. */
    public void cache(long offset, long length) throws IOException {
        if (!info.canCache()) return;
        rangeCommand(Nbd.CMD_CACHE, 0, offset, length);
    }

    /**
     * Reports {@code base:allocation} from {@code offset}: extents in order, contiguous, clipped to the
     * range asked, each passed to {@code sink} until it returns false. Returns the bytes described (at least
     * one extent's worth, possibly less than {@code length}). Without the meta context the whole range is
     * reported as allocated data, which is always a safe answer.
     */
    public long blockStatus(long offset, long length, Export.ExtentSink sink) throws IOException {
        checkRange(offset, length);
        if (length == 0) return 0;
        ExportInfo i = info;
        if (!i.canBlockStatus()) {
            sink.extent(length, 0);
            return length;
        }
        int n = (int) Math.min(length, MAX_RANGE);
        Request r = execute(Nbd.CMD_BLOCK_STATUS, 0, offset, n, null, 0, RETAIN);
        try {
            long described = 0;
            for (int k = 0; k < r.extentCount && described < length; k++) {
                long e = r.extents[k];
                long len = Math.min(e >>> 32, length - described);
                described += len;
                if (!sink.extent(len, (int) e)) break;
            }
            return described;
        } finally {
            release(r);
        }
    }

    private void rangeCommand(int type, int flags, long offset, long length) throws IOException {
        checkRange(offset, length);
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(MAX_RANGE, length - done);
            execute(type, flags, offset + done, n, null, 0, null);
            done += n;
        }
    }

    private void checkRange(long offset, long length) throws NbdException {
        if (offset < 0 || length < 0 || offset > exportSize - length) {
            throw new NbdException(Nbd.EINVAL, "range " + offset + "+" + length + " outside export of " + exportSize + " bytes");
        }
        int min = info.minimumBlockSize();
        if (min > 1 && ((offset | length) & (min - 1)) != 0 && offset + length != exportSize) {
            throw new NbdException(Nbd.EINVAL, "range " + offset + "+" + length + " not aligned to the server's minimum block size " + min);
        }
    }

    // ------------------------------------------------------------------------------------- request lifecycle

    /** Marker for {@link #execute}: keep the slot for the caller to read (block status) and release. */
    private static final Object RETAIN = new Object();

    private Request execute(int type, int flags, long offset, int length, ByteBuffer data, int dataStart, Object retain) throws IOException {
        Request r;
        Connection c;
        lock.lock();
        try {
            if (closed) throw closedException();
            while (freeCount == 0) {
                slotFreed.await();
                if (closed) throw closedException();
            }
            if (current == null && failFast) throw unavailable();
            r = requests[free[--freeCount]];
            r.prepare(type, flags, offset, length, data, dataStart);
            c = current;
            if (c != null) {
                r.sentOn(c, clock.getAsLong());
            } else {
                r.state = QUEUED;
                r.troubled = true;
                r.troubleSinceNs = outageStartNs;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for a free request slot");
        } finally {
            lock.unlock();
        }
        if (c != null) send(c, r);

        lock.lock();
        boolean interrupted = false;
        try {
            while (r.state != DONE) {
                // Not interruptible: the buffer belongs to the reader until the reply is in.
                r.done.awaitUninterruptibly();
                interrupted |= Thread.interrupted();
            }
            if (r.errorCode == 0 && retain == RETAIN) return r;
            if (r.errorCode != 0) {
                NbdException e = new NbdException(r.errorCode, Nbd.commandName(type) + " " + offset + "+" + length + ": " + r.errorMessage, r.errorCause);
                releaseLocked(r);
                throw e;
            }
            releaseLocked(r);
            return null;
        } finally {
            lock.unlock();
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private void release(Request r) {
        lock.lock();
        try {
            releaseLocked(r);
        } finally {
            lock.unlock();
        }
    }

    private void releaseLocked(Request r) {
        r.clear();
        free[freeCount++] = r.index;
        slotFreed.signal();
    }

    /**
     * Writes one request; a failure kills the connection, whose reader then requeues the request.
     *
     * <p>A request leaves SENT(c) only by a reply (impossible before it is written) or by c's reader handing
     * it back, which it does holding writeLock. So the check below, made under writeLock, guarantees that the
     * caller's buffer is not touched once the request has been requeued, failed and returned to its caller.
     */
    private void send(Connection c, Request r) {
        boolean interrupted = Thread.interrupted(); // an interrupt during a channel write would close the socket
        writeLock.lock();
        try {
            if (r.state != SENT || r.conn != c) return;
            r.gather(c);
            GatheringByteChannel ch = c.out;
            ByteBuffer[] g = r.gather;
            int n = r.gatherCount;
            long remaining = r.wireLength();
            while (remaining > 0) remaining -= ch.write(g, 0, n);
        } catch (IOException e) {
            c.kill("write failed: " + e);
        } finally {
            r.ungather();
            writeLock.unlock();
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private NbdException closedException() {
        return new NbdException(Nbd.ESHUTDOWN, "NBD client for " + uri + " is closed");
    }

    private NbdException unavailable() {
        return new NbdException(Nbd.EIO, "NBD server " + uri + " unreachable for more than " + options.giveUpAfter().toMillis() + " ms: " + lastError);
    }

    // -------------------------------------------------------------------------------- connection lifecycle

    private static Connection openConnection(NbdUri uri, Options options, long id, NbdClient client) throws IOException {
        if (uri.tls() && options.tls() == null) throw new IOException(uri + " needs TLS credentials (--tls-dir DIR)");
        SocketChannel ch = uri.endpoint().open();
        // An unreachable host, or a server that accepts but never answers, must not hang the attempt: close
        // the socket when connect plus handshake take longer than connectTimeout.
        AtomicBoolean timedOut = new AtomicBoolean();
        Thread watchdog = closeAfter(ch, options.connectTimeout(), timedOut);
        try {
            ch.connect(uri.endpoint().address());
            ClientHandshake handshake = new ClientHandshake(ch, uri.tls() ? options.tls() : null, uri.endpoint());
            ExportInfo info = handshake.negotiate(uri.exportName());
            Connection c = new Connection(id, ch, handshake.tls(), info);
            c.client = client;
            return c;
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            if (timedOut.get()) {
                throw new IOException("handshake with " + uri + " timed out after " + options.connectTimeout().toMillis() + " ms", e);
            }
            throw e;
        } finally {
            watchdog.interrupt();
        }
    }

    /**
     * The supervisor: expires queued requests, detects stalled connections, and reconnects with backoff.
     * One virtual thread per client.
     */
    private void supervise() {
        int attempt = 0;
        long nextAttemptNs = clock.getAsLong();
        while (true) {
            lock.lock();
            try {
                if (closed) return;
                long now = clock.getAsLong();
                expireLocked(now);
                Connection c = current;
                if (c != null) {
                    nextAttemptNs = now;
                    if (c.inFlight > 0 && now - c.lastProgressNs > options.stallTimeout().toNanos()) {
                        c.kill("no reply from server for " + options.stallTimeout().toMillis() + " ms");
                    }
                    supervisorWake.awaitNanos(SUPERVISOR_TICK_NS);
                    continue;
                }
                if (now - nextAttemptNs < 0) {
                    supervisorWake.awaitNanos(Math.min(nextAttemptNs - now, SUPERVISOR_TICK_NS));
                    continue;
                }
            } catch (InterruptedException e) {
                continue; // close() interrupts; the loop head sees closed
            } finally {
                lock.unlock();
            }

            Connection n;
            try {
                n = openConnection(uri, options, ++connectionIds, this);
                if (n.info.size() != exportSize) {
                    closeQuietly(n.channel);
                    throw new IOException("export '" + uri.exportName() + "' changed size from " + exportSize + " to " + n.info.size() + " bytes: not resuming");
                }
            } catch (IOException | RuntimeException e) {
                attempt++;
                long delay = options.backoff().delayNanos(attempt, ThreadLocalRandom.current().nextDouble());
                nextAttemptNs = clock.getAsLong() + delay;
                lock.lock();
                try {
                    lastError = "reconnect attempt " + attempt + " failed: " + e.getMessage();
                } finally {
                    lock.unlock();
                }
                continue;
            }
            attempt = 0;
            install(n);
        }
    }

    /**
     * Makes {@code c} current and resends every queued request on it, from a thread of its own so that a
     * slow socket cannot keep the supervisor from noticing a stall.
     */
    private void install(Connection c) {
        int[] resend = new int[requests.length];
        int count = 0;
        lock.lock();
        try {
            if (closed) {
                closeQuietly(c.channel);
                return;
            }
            long now = clock.getAsLong();
            current = c;
            info = c.info;
            reconnects++;
            failFast = false;
            for (Request r : requests) {
                if (r.state == QUEUED) {
                    r.sentOn(c, now);
                    resend[count++] = r.index;
                }
            }
            c.startReader();
        } finally {
            lock.unlock();
        }
        if (count == 0) return;
        int total = count;
        Thread.ofVirtual().name("nbd-resend " + uri).start(() -> {
            for (int k = 0; k < total; k++) send(c, requests[resend[k]]);
        });
    }

    /** Fails queued requests whose outage began more than giveUpAfter ago. Caller holds {@link #lock}. */
    private void expireLocked(long now) {
        long limit = options.giveUpAfter().toNanos();
        if (current == null && !failFast && now - outageStartNs >= limit) failFast = true;
        for (Request r : requests) {
            if (r.state == QUEUED && now - r.troubleSinceNs >= limit) {
                r.finish(Nbd.EIO, "NBD server " + uri + " unreachable for more than " + options.giveUpAfter().toMillis() + " ms: " + lastError, null);
            }
        }
    }

    /** Called by a connection's reader as its last act. */
    private void connectionLost(Connection c, String reason, Request culprit, Throwable cause) {
        lock.lock();
        try {
            long now = clock.getAsLong();
            if (current == c) {
                current = null;
                outageStartNs = now;
                lastError = reason;
            }
            for (Request r : requests) {
                if (r.state != SENT || r.conn != c) continue;
                c.inFlight--;
                r.conn = null;
                if (r == culprit) {
                    r.finish(Nbd.EIO, "server broke the protocol: " + reason, cause);
                } else if (closed) {
                    r.finish(Nbd.ESHUTDOWN, "NBD client closed", null);
                } else {
                    r.state = QUEUED;
                    if (!r.troubled) {
                        r.troubled = true;
                        r.troubleSinceNs = outageStartNs;
                    }
                }
            }
            drained.signalAll();
            supervisorWake.signal();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits (up to 5 s) for requests in flight, sends NBD_CMD_DISC, closes the socket and fails whatever is
     * left with ESHUTDOWN.
     */
    @Override
    public void close() {
        Connection c;
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            for (Request r : requests) {
                if (r.state == QUEUED) r.finish(Nbd.ESHUTDOWN, "NBD client closed", null);
            }
            slotFreed.signalAll();
            supervisorWake.signal();
            long deadline = clock.getAsLong() + CLOSE_DRAIN_NS;
            while ((c = current) != null && c.inFlight > 0) {
                long left = deadline - clock.getAsLong();
                if (left <= 0) break;
                drained.awaitNanos(left);
            }
            c = current;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            c = current;
        } finally {
            lock.unlock();
        }
        if (c != null) {
            writeLock.lock();
            try {
                ByteBuffer disc = ByteBuffer.allocate(RequestHeader.LENGTH);
                new RequestHeader().wrap(disc, 0).set(0, Nbd.CMD_DISC, 0, 0, 0);
                while (disc.hasRemaining()) c.out.write(disc);
                if (c.tls != null) c.tls.closeOutbound();
                c.channel.shutdownOutput();
            } catch (IOException e) {
                // the server is gone already
            } finally {
                writeLock.unlock();
            }
            c.kill("client closed");
            joinQuietly(c.reader);
        }
        supervisor.interrupt();
        joinQuietly(supervisor);
    }

    private static void joinQuietly(Thread t) {
        if (t == null) return;
        try {
            t.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    @Override
    public String toString() {
        return "NbdClient[" + uri + "]";
    }

    // ------------------------------------------------------------------------------------------ a request

    /** One request slot, reused. Fields are guarded by {@link #lock} except where noted. */
    private static final class Request {
        final int index;
        final Condition done;
        final ByteBuffer header = ByteBuffer.allocateDirect(RequestHeader.LENGTH);
        final RequestHeader headerCodec = new RequestHeader().wrap(header, 0);
        final ByteBuffer[] gather = new ByteBuffer[2];
        int gatherCount;
        int seq;
        long cookie;

        // Written under the client lock; volatile so a sender holding only writeLock can check them.
        volatile int state = FREE;
        volatile Connection conn;
        /** Set when the request first met an outage; from then it has giveUpAfter to complete. */
        boolean troubled;
        long troubleSinceNs;

        int type;
        int flags;
        long offset;
        int length;
        ByteBuffer data;
        int dataStart;

        // Filled by the reader of the connection the request is SENT on.
        long bytesSeen;
        boolean statusSeen;
        long[] extents = new long[0];
        int extentCount;
        int replyError;
        String replyMessage;

        // The outcome, set with state DONE.
        int errorCode;
        String errorMessage;
        Throwable errorCause;

        Request(int index, Condition done) {
            this.index = index;
            this.done = done;
        }

        void prepare(int type, int flags, long offset, int length, ByteBuffer data, int dataStart) {
            this.type = type;
            this.flags = flags;
            this.offset = offset;
            this.length = length;
            this.data = data;
            this.dataStart = dataStart;
            this.cookie = (long) (++seq) << 32 | index;
            this.troubled = false;
            headerCodec.set(flags, type, cookie, offset, length);
        }

        void sentOn(Connection c, long now) {
            state = SENT;
            conn = c;
            resetReply();
            if (c.inFlight++ == 0) c.lastProgressNs = now;
        }

        void resetReply() {
            bytesSeen = 0;
            statusSeen = false;
            extentCount = 0;
            replyError = 0;
            replyMessage = null;
        }

        /** Caller holds writeLock. */
        void gather(Connection c) {
            header.clear();
            gather[0] = header;
            if (type == Nbd.CMD_WRITE && length > 0) {
                // The caller's buffer, windowed; only one sender at a time (writeLock), and its owner is parked.
                data.limit(dataStart + length).position(dataStart);
                gather[1] = data;
                gatherCount = 2;
            } else {
                gatherCount = 1;
            }
        }

        long wireLength() {
            return RequestHeader.LENGTH + (gatherCount == 2 ? length : 0);
        }

        void ungather() {
            gather[0] = null;
            gather[1] = null;
        }

        /** Completes the request; caller holds the client lock. */
        void finish(int error, String message, Throwable cause) {
            errorCode = error;
            errorMessage = message;
            errorCause = cause;
            state = DONE;
            done.signal();
        }

        void clear() {
            state = FREE;
            data = null;
            conn = null;
            errorCode = 0;
            errorMessage = null;
            errorCause = null;
            if (extents.length > 1024) extents = new long[0];
        }

        void addExtent(long length, int flags) {
            if (extentCount == extents.length) extents = java.util.Arrays.copyOf(extents, Math.max(16, extentCount * 2));
            extents[extentCount++] = length << 32 | (flags & 0xffffffffL);
        }
    }

    // ------------------------------------------------------------------------------------------ a connection

    /** One socket and its reader thread. */
    private static final class Connection {
        final long id;
        final SocketChannel channel;
        // What requests go out on and replies come in from: the channel, or TLS over it.
        final TlsChannel tls;
        final GatheringByteChannel out;
        final ReadableByteChannel in;
        final ExportInfo info;
        NbdClient client;
        Thread reader;
        int inFlight;                       // guarded by the client lock
        volatile long lastProgressNs;
        volatile String deathReason;

        Connection(long id, SocketChannel channel, TlsChannel tls, ExportInfo info) {
            this.id = id;
            this.channel = channel;
            this.tls = tls;
            this.out = tls != null ? tls : channel;
            this.in = tls != null ? tls : channel;
            this.info = info;
        }

        void startReader() {
            reader = Thread.ofPlatform().daemon().name("nbd-reader-" + id + " " + client.uri).start(new ReplyReader(client, this));
        }

        /** Closes the socket; the reader wakes up, requeues the requests and exits. */
        void kill(String reason) {
            if (deathReason == null) deathReason = reason;
            closeQuietly(channel);
        }
    }

    // --------------------------------------------------------------------------------------- the reply reader

    /**
     * Reads replies for one connection until it dies. Receives into a 256 KiB buffer so small replies cost
     * one read for many; data chunks of 64 KiB or more go from the socket straight into the caller's buffer.
     */
    private static final class ReplyReader implements Runnable {
        private static final int BUFFER = 256 << 10;
        private static final int MAX_EXTENTS = 1 << 16;
        private final NbdClient client;
        private final Connection conn;
        private final ReadableByteChannel ch;
        private final ByteBuffer in = ByteBuffer.allocateDirect(BUFFER).flip();
        private final boolean structured;
        private final long contextId;
        private Request current;

        ReplyReader(NbdClient client, Connection conn) {
            this.client = client;
            this.conn = conn;
            this.ch = conn.in;
            this.structured = conn.info.structuredReplies();
            this.contextId = conn.info.baseAllocationContext();
        }

        @Override
        public void run() {
            String reason;
            Throwable cause = null;
            Request culprit = null;
            try {
                while (true) readReply();
            } catch (ProtocolException e) {
                reason = e.getMessage();
                cause = e;
                culprit = current;
            } catch (EOFException e) {
                reason = "server closed the connection";
            } catch (IOException | RuntimeException e) {
                reason = e.toString();
            }
            closeQuietly(conn.channel);
            if (conn.deathReason != null) reason = conn.deathReason;
            // The socket is closed, so a sender still writing to it fails at once and lets go of writeLock;
            // holding writeLock while handing requests back means no sender is inside their buffers.
            client.writeLock.lock();
            try {
                client.connectionLost(conn, reason, culprit, cause);
            } finally {
                client.writeLock.unlock();
            }
        }

        private void readReply() throws IOException {
            current = null;
            fill(4);
            int magic = in.getInt(in.position());
            if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
                fill(SimpleReplyHeader.LENGTH);
                int error = in.getInt(in.position() + SimpleReplyHeader.ERROR_OFFSET);
                long cookie = in.getLong(in.position() + SimpleReplyHeader.COOKIE_OFFSET);
                in.position(in.position() + SimpleReplyHeader.LENGTH);
                Request r = lookup(cookie);
                if (error != 0) {
                    complete(r, error, "server error " + Nbd.errorName(error));
                    return;
                }
                if (r.type == Nbd.CMD_READ) {
                    copyTo(r.data, r.dataStart, r.length);
                } else if (r.type == Nbd.CMD_BLOCK_STATUS) {
                    throw new ProtocolException("simple reply to BLOCK_STATUS");
                }
                complete(r, 0, null);
            } else if (magic == Nbd.STRUCTURED_REPLY_MAGIC && structured) {
                fill(StructuredReplyHeader.LENGTH);
                int p = in.position();
                int flags = in.getShort(p + StructuredReplyHeader.FLAGS_OFFSET) & 0xffff;
                int type = in.getShort(p + StructuredReplyHeader.TYPE_OFFSET) & 0xffff;
                long cookie = in.getLong(p + StructuredReplyHeader.COOKIE_OFFSET);
                long len = in.getInt(p + StructuredReplyHeader.PAYLOAD_LENGTH_OFFSET) & 0xffffffffL;
                in.position(p + StructuredReplyHeader.LENGTH);
                Request r = lookup(cookie);
                chunk(r, type, len);
                if ((flags & Nbd.REPLY_FLAG_DONE) != 0) finishStructured(r);
            } else {
                throw new ProtocolException(String.format("bad reply magic 0x%08x", magic));
            }
        }

        private void chunk(Request r, int type, long len) throws IOException {
            switch (type) {
                case Nbd.REPLY_TYPE_NONE -> {
                    if (len != 0) throw new ProtocolException("NONE chunk with " + len + " payload bytes");
                }
                case Nbd.REPLY_TYPE_OFFSET_DATA -> {
                    if (r.type != Nbd.CMD_READ) throw new ProtocolException("OFFSET_DATA chunk for " + Nbd.commandName(r.type));
                    if (len <= 8) throw new ProtocolException("OFFSET_DATA chunk of " + len + " bytes");
                    fill(8);
                    long off = in.getLong();
                    long n = len - 8;
                    int at = within(r, off, n, "OFFSET_DATA");
                    r.bytesSeen += n;
                    copyTo(r.data, r.dataStart + at, (int) n);
                }
                case Nbd.REPLY_TYPE_OFFSET_HOLE -> {
                    if (r.type != Nbd.CMD_READ) throw new ProtocolException("OFFSET_HOLE chunk for " + Nbd.commandName(r.type));
                    if (len != 12) throw new ProtocolException("OFFSET_HOLE chunk of " + len + " bytes, expected 12");
                    fill(12);
                    long off = in.getLong();
                    long n = in.getInt() & 0xffffffffL;
                    if (n == 0) throw new ProtocolException("OFFSET_HOLE of length 0");
                    int at = within(r, off, n, "OFFSET_HOLE");
                    r.bytesSeen += n;
                    zero(r.data, r.dataStart + at, (int) n);
                }
                case Nbd.REPLY_TYPE_BLOCK_STATUS -> {
                    if (r.type != Nbd.CMD_BLOCK_STATUS) throw new ProtocolException("BLOCK_STATUS chunk for " + Nbd.commandName(r.type));
                    if (len < 12 || (len - 4) % 8 != 0 || len > Nbd.MAX_PAYLOAD) throw new ProtocolException("BLOCK_STATUS chunk of " + len + " bytes");
                    if (r.statusSeen) throw new ProtocolException("second BLOCK_STATUS chunk for one context");
                    r.statusSeen = true;
                    fill(4);
                    long id = in.getInt() & 0xffffffffL;
                    if (id != contextId) throw new ProtocolException("BLOCK_STATUS for unknown context id " + id);
                    long remaining = r.length;
                    for (long k = (len - 4) / 8; k > 0; k--) {
                        fill(8);
                        long elen = in.getInt() & 0xffffffffL;
                        int eflags = in.getInt();
                        if (elen == 0) throw new ProtocolException("BLOCK_STATUS extent of length 0");
                        // The last extent may run past the request (the spec allows it): clip it. Keep at most
                        // MAX_EXTENTS (describing less than asked is allowed) so no server can make us hoard.
                        if (remaining > 0 && r.extentCount < MAX_EXTENTS) {
                            long use = Math.min(elen, remaining);
                            r.addExtent(use, eflags);
                            remaining -= use;
                        }
                    }
                }
                default -> {
                    if (!StructuredReplyHeader.isError(type)) throw new ProtocolException("unknown reply chunk type " + type);
                    errorChunk(r, type, len);
                }
            }
        }

        private void errorChunk(Request r, int type, long len) throws IOException {
            if (len < 6 || len > Nbd.MAX_OPTION_LENGTH) throw new ProtocolException("error chunk of " + len + " bytes");
            fill((int) len);
            int start = in.position();
            int error = in.getInt();
            int msgLen = in.getShort() & 0xffff;
            if (msgLen > len - 6) throw new ProtocolException("error message of " + msgLen + " bytes in a " + len + " byte chunk");
            byte[] msg = new byte[msgLen];
            in.get(msg);
            if (type == Nbd.REPLY_TYPE_ERROR_OFFSET) {
                if (len != 6 + msgLen + 8) throw new ProtocolException("ERROR_OFFSET chunk of " + len + " bytes with a " + msgLen + " byte message");
                long off = in.getLong();
                within(r, off, 1, "ERROR_OFFSET");
            } else if (type == Nbd.REPLY_TYPE_ERROR && len != 6 + msgLen) {
                throw new ProtocolException("ERROR chunk of " + len + " bytes with a " + msgLen + " byte message");
            }
            in.position(start + (int) len);
            if (error == 0) throw new ProtocolException("error chunk with error 0");
            if (r.replyError == 0) {
                r.replyError = error;
                String text = new String(msg, java.nio.charset.StandardCharsets.UTF_8);
                r.replyMessage = "server error " + Nbd.errorName(error) + (text.isEmpty() ? "" : ": " + text);
            }
        }

        private void finishStructured(Request r) throws ProtocolException {
            if (r.replyError != 0) {
                complete(r, r.replyError, r.replyMessage);
                return;
            }
            if (r.type == Nbd.CMD_READ && r.bytesSeen != r.length) {
                throw new ProtocolException("READ reply covered " + r.bytesSeen + " of " + r.length + " bytes");
            }
            if (r.type == Nbd.CMD_BLOCK_STATUS && r.extentCount == 0) {
                throw new ProtocolException("BLOCK_STATUS reply without extents");
            }
            complete(r, 0, null);
        }

        /** Offset of a chunk within the request's buffer; throws when the chunk lies outside the request. */
        private int within(Request r, long off, long n, String what) throws ProtocolException {
            long rel = off - r.offset;
            if (off < r.offset || rel > r.length || n > r.length - rel) {
                throw new ProtocolException(what + " " + off + "+" + n + " outside request " + r.offset + "+" + r.length);
            }
            if (r.type == Nbd.CMD_READ && r.bytesSeen + n > r.length && !what.equals("ERROR_OFFSET")) {
                throw new ProtocolException(what + " chunks overlap: more than " + r.length + " bytes for the request");
            }
            return (int) rel;
        }

        /** Finds the request a reply belongs to; anything but a request in flight on this connection is fatal. */
        private Request lookup(long cookie) throws ProtocolException {
            int index = (int) cookie;
            Request[] all = client.requests;
            client.lock.lock();
            try {
                if (index < 0 || index >= all.length || all[index].cookie != cookie || all[index].state != SENT || all[index].conn != conn) {
                    throw new ProtocolException(String.format("reply for unknown cookie 0x%016x", cookie));
                }
                current = all[index];
                return current;
            } finally {
                client.lock.unlock();
            }
        }

        private void complete(Request r, int error, String message) {
            client.lock.lock();
            try {
                conn.inFlight--;
                r.conn = null;
                if (error != 0) r.finish(error, message, null);
                else r.finish(0, null, null);
                if (conn.inFlight == 0) client.drained.signalAll();
            } finally {
                client.lock.unlock();
            }
            current = null;
        }

        // ---- receive buffer

        /** Makes at least {@code n} bytes (n <= buffer size) available in {@link #in}. */
        private void fill(int n) throws IOException {
            if (in.remaining() >= n) return;
            in.compact();
            while (in.position() < n) {
                if (ch.read(in) < 0) throw new EOFException();
                conn.lastProgressNs = client.clock.getAsLong();
            }
            in.flip();
        }

        private void copyTo(ByteBuffer dst, int at, int len) throws IOException {
            int k = Math.min(in.remaining(), len);
            if (k > 0) {
                dst.put(at, in, in.position(), k);
                in.position(in.position() + k);
                at += k;
                len -= k;
            }
            if (len >= (BUFFER >> 2)) {
                int pos = dst.position(), lim = dst.limit();
                dst.limit(at + len).position(at);
                try {
                    while (dst.hasRemaining()) {
                        if (ch.read(dst) < 0) throw new EOFException();
                        conn.lastProgressNs = client.clock.getAsLong();
                    }
                } finally {
                    dst.limit(lim).position(pos);
                }
                return;
            }
            while (len > 0) {
                fill(1);
                k = Math.min(in.remaining(), len);
                dst.put(at, in, in.position(), k);
                in.position(in.position() + k);
                at += k;
                len -= k;
            }
        }

        private static void zero(ByteBuffer dst, int at, int len) {
            while (len > 0) {
                int k = Math.min(len, ZEROS.capacity());
                dst.put(at, ZEROS, 0, k);
                at += k;
                len -= k;
            }
        }
    }
}

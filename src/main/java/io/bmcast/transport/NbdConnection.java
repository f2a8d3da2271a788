package io.bmcast.transport;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.protocol.ProtocolException;
import io.bmcast.protocol.RequestDecoder;
import io.bmcast.protocol.RequestHeader;
import io.bmcast.protocol.SimpleReplyHeader;
import io.bmcast.protocol.StructuredReplyHeader;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One client connection, served by one virtual thread (the reader) plus, for slow requests, a virtual
 * thread per request.
 *
 * <p>The hot path: the reader pulls requests in large reads and decodes every request each read holds.
 * A request the export says {@linkplain Export#completesQuickly completes quickly} is executed right
 * there and its reply joins a batch; the batch goes out in one gathering write when the reader runs out
 * of decoded input (or the batch grows large), so a burst of 32 small reads costs one read and one write
 * system call. Other requests (and FLUSH, and FUA writes, which wait on the disk) go to workers that reply
 * out of order as they finish. Every reply is written under {@link #writeLock}.
 *
 * <p>A READ of at least {@link #SENDFILE_BYTES} from an export backed by a file ({@link Export#sendableRange})
 * on a plaintext connection is not read into a buffer: its reply header is written, then the payload goes
 * from the file to the socket with {@code sendfile}, both under the same lock, so replies never interleave.
 *
 * <p>Bounds: a fixed set of {@link Request}s (their count caps the requests in flight) and a
 * {@link BufferPool} whose outstanding bytes cap the payload in flight; the reader stops reading when
 * either runs out, which pushes back on the client through TCP or the Unix socket.
 */
final class NbdConnection implements Runnable {
    private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());
    private static final int INPUT_BUFFER = 256 << 10;
    /**
     * What a connection reads requests into until a read fills it: an idle or trickling client then costs
     * 16 KiB instead of 256 KiB (1000 idle clients: 16 MiB, not 250), and a busy one moves up to
     * {@link #INPUT_BUFFER} after its first full read, while the server's budget for those allows.
     */
    private static final int SMALL_INPUT_BUFFER = 16 << 10;
    /** The read after a payload read straight into its buffer: a header and a little more. */
    private static final int SHORT_READ = 16 << 10;
    /** A batch of inline replies is written once it holds this many bytes, so large reads start flowing. */
    private static final long BATCH_BYTES = 256 << 10;
    /** WRITEs at least this large are executed by a worker even when the export completes quickly. */
    private static final long PARALLEL_WRITE_BYTES = 256 << 10;
    /**
     * READs at least this large are sent with sendfile when the export allows. Smaller ones are copied: a
     * batch of 4 KiB replies goes out in one gathering write, where sendfile would cost a call per reply.
     */
    private static final long SENDFILE_BYTES = 64 << 10;
    /** Bytes written with a plain write when sendfile stalls on a full socket (see {@link #sendPayload}). */
    private static final int STALL_WRITE = 4 << 10;
    /** Extents per BLOCK_STATUS reply at most. */
    private static final int MAX_EXTENTS = 4096;

    private final NbdServer server;
    private final SocketChannel ch;
    // What requests are read from and replies written to: ch itself, or TLS over it after STARTTLS.
    private ReadableByteChannel wireIn;
    private GatheringByteChannel wireOut;
    private TlsChannel tls;
    private final long id;
    private final String peer;
    private final long startNs = System.nanoTime();

    // Request slots: guarded by slotLock; workers return theirs and signal.
    private final ReentrantLock slotLock = new ReentrantLock();
    private final Condition slotFreed = slotLock.newCondition();
    private final Request[] freeSlots;
    private int freeCount;
    private final int slotCount;

    private final BufferPool pool;
    // Guards the socket's output: every reply is one locked gathering write.
    private final ReentrantLock writeLock = new ReentrantLock();
    // A few bytes of a sendfile payload on their way through a plain write; guarded by writeLock.
    private ByteBuffer stallBuffer;

    // Reader-thread state.
    private final ArrayList<Request> batch = new ArrayList<>();
    private final ByteBuffer[] gather;
    private long batchBytes;
    private ServerHandshake.Session session;
    private Export export;
    private long exportSize;
    private boolean structured;
    private long requests;
    private ByteBuffer input; // the reader's input buffer, SMALL_INPUT_BUFFER or INPUT_BUFFER bytes
    // A WRITE whose payload is still arriving (written by the reader only; read by the deadline sweep too).
    private volatile Request pendingWrite;
    // The last payload was large enough to be read straight into its buffer (reader thread only).
    private boolean afterLargePayload;

    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicLong bytesWritten = new AtomicLong();
    private volatile boolean broken;
    private volatile boolean stopping;
    private volatile String brokenReason;

    NbdConnection(NbdServer server, SocketChannel ch, long id) {
        this.server = server;
        this.ch = ch;
        this.wireIn = ch;
        this.wireOut = ch;
        this.id = id;
        this.peer = peerOf(ch);
        NbdServer.Config cfg = server.config();
        this.slotCount = cfg.maxRequestsInFlight();
        this.freeSlots = new Request[slotCount];
        ByteBuffer headers = ByteBuffer.allocateDirect(slotCount * Request.HEADER_SPACE);
        for (int i = 0; i < slotCount; i++) {
            freeSlots[i] = new Request(headers.slice(i * Request.HEADER_SPACE, Request.HEADER_SPACE));
        }
        this.freeCount = slotCount;
        this.gather = new ByteBuffer[2 * slotCount];
        this.pool = new BufferPool(cfg.maxBytesInFlight(), cfg.maxBytesInFlight() / 2, server.budget());
        this.handshakeDeadlineNs = startNs + cfg.limits().handshakeTimeoutNanos();
        this.lastActivityNs = startNs;
    }

    static String peerOf(SocketChannel ch) {
        try {
            var a = ch.getRemoteAddress();
            String s = a == null ? "" : a.toString();
            return s.isEmpty() ? "unix" : s;
        } catch (IOException e) {
            return "?";
        }
    }

    /** Asks the connection to finish: no new requests are read; those in flight complete. */
    void stop() {
        stopping = true;
        try {
            ch.shutdownInput();
        } catch (IOException e) {
            // already closed
        }
    }

    // Deadlines, read by the server's sweep: set from the reader (and repliers) with plain volatile writes.
    private final long handshakeDeadlineNs;
    private volatile boolean inHandshake = true;
    private volatile long lastActivityNs; // last byte received or reply bytes sent
    private volatile long replyBlockedSinceNs; // 0, or since when a reply write has been under way
    private volatile String timedOutReason;

    /**
     * Drops this connection when it is past the handshake deadline, or idle (nothing in flight, nothing
     * received), stuck on a reply the client does not read, or waiting for the rest of a WRITE payload
     * for the idle timeout. True when it did.
     */
    boolean checkDeadlines(long nowNs, NbdServer.Limits limits) {
        if (timedOutReason != null || stopping) return false;
        String why = null;
        if (inHandshake) {
            if (nowNs - handshakeDeadlineNs > 0) {
                why = "handshake not finished in " + millis(limits.handshakeTimeoutNanos());
            }
        } else if (limits.idleTimeoutNanos() > 0) {
            long idle = nowNs - lastActivityNs;
            long blocked = replyBlockedSinceNs;
            boolean payloadStalled = pendingWrite != null;
            if (idle > limits.idleTimeoutNanos() && (blocked != 0 || payloadStalled || inFlight() == 0)) {
                why = blocked != 0 ? "client read no reply for " + millis(idle)
                        : payloadStalled ? "client sent no WRITE data for " + millis(idle)
                        : "idle for " + millis(idle) + " (idle timeout " + millis(limits.idleTimeoutNanos()) + ")";
            }
        }
        if (why == null) return false;
        timedOutReason = why;
        kill();
        return true;
    }

    private static String millis(long nanos) {
        long ms = TimeUnit.NANOSECONDS.toMillis(nanos);
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    /** Closes the socket at once (after the shutdown grace period). */
    void kill() {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    @Override
    public void run() {
        String reason;
        try {
            ServerHandshake handshake = new ServerHandshake(ch, server);
            try {
                session = handshake.run();
            } finally {
                lastActivityNs = System.nanoTime();
                inHandshake = false;
            }
            if (handshake.tls() != null) {
                tls = handshake.tls();
                wireIn = tls;
                wireOut = tls;
            }
            if (session == null) {
                reason = "client aborted the handshake";
            } else {
                export = session.export();
                exportSize = export.size();
                structured = session.structured();
                LOG.log(Level.INFO, "conn#{0} open: peer {1}, export ''{2}''{3}{4}", id, peer, session.name(),
                        structured ? ", structured replies" : "", tls != null ? ", " + tls.describe() : "");
                tune();
                reason = transmission();
            }
        } catch (ProtocolException e) {
            reason = timedOutReason != null ? timedOutReason : "protocol error: " + e.getMessage();
        } catch (IOException e) {
            reason = stopping ? "server shutting down"
                    : timedOutReason != null ? timedOutReason : "I/O error: " + e.getMessage();
        } catch (InterruptedException e) {
            reason = "interrupted";
        } catch (RuntimeException | Error e) {
            server.internalError();
            LOG.log(Level.ERROR, "conn#" + id + " failed", e);
            reason = "internal error: " + e;
        }
        if (timedOutReason != null) reason = timedOutReason;
        finish(reason);
    }

    private void tune() {
        try {
            ch.setOption(StandardSocketOptions.SO_SNDBUF, 4 << 20);
            ch.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort
        }
    }

    private void finish(String reason) {
        if (pendingWrite != null) {
            releaseSlot(pendingWrite); // the client left mid-payload
            pendingWrite = null;
        }
        try {
            flushBatch();
        } catch (RuntimeException e) {
            // the socket is gone; the requests were released
        }
        boolean idle = awaitIdle(server.config().shutdownGraceNanos());
        if (tls != null && idle) tls.closeOutbound();
        kill();
        if (!idle) awaitIdle(TimeUnit.SECONDS.toNanos(1));
        pool.close();
        if (input != null && input.capacity() == INPUT_BUFFER) server.budget().releaseInput(INPUT_BUFFER);
        double secs = (System.nanoTime() - startNs) / 1e9;
        if (session != null) {
            LOG.log(Level.INFO, String.format(java.util.Locale.ROOT,
                    "conn#%d close: export '%s', %d requests, %d bytes read, %d bytes written, %.3f s, %s%s",
                    id, session.name(), requests, bytesRead.get(), bytesWritten.get(), secs,
                    timedOutReason == null && brokenReason != null ? brokenReason : reason,
                    idle ? "" : " (" + inFlight() + " requests still in flight after the grace period)"));
        } else {
            LOG.log(Level.INFO, String.format(java.util.Locale.ROOT,
                    "conn#%d close: peer %s, during handshake, %.3f s, %s", id, peer, secs, reason));
        }
        server.connectionClosed(this);
    }

    // ---------------------------------------------------------------- transmission

    private String transmission() throws IOException, InterruptedException {
        ByteBuffer in = input = ByteBuffer.allocateDirect(SMALL_INPUT_BUFFER);
        in.limit(0);
        RequestDecoder dec = new RequestDecoder();
        while (true) {
            int r;
            try {
                r = dec.decode(in);
            } catch (ProtocolException e) {
                return "protocol error: " + e.getMessage();
            }
            if (r == RequestDecoder.NEED_MORE) {
                flushBatch();
                if (broken) return "reply failed: " + brokenReason;
                ByteBuffer p = dec.pendingPayload();
                if (p != null) {
                    // Read the rest of a WRITE payload straight into its buffer.
                    while (p.hasRemaining()) {
                        if (wireIn.read(p) < 0) return stopping ? "server shutting down" : "client vanished mid-request";
                        lastActivityNs = System.nanoTime();
                    }
                    dec.payloadFilledExternally();
                    afterLargePayload = pendingWrite.length >= PARALLEL_WRITE_BYTES;
                    dispatchWrite(pendingWrite);
                    pendingWrite = null;
                    continue;
                }
                if (!in.hasRemaining() && in.capacity() < INPUT_BUFFER && in.limit() == in.capacity()
                        && server.budget().tryInput(INPUT_BUFFER)) {
                    in = input = ByteBuffer.allocateDirect(INPUT_BUFFER); // the last read filled the small one
                }
                in.clear();
                if (afterLargePayload) {
                    // A large WRITE is likely followed by another: read little, so that its payload is not read
                    // into this buffer and copied (up to 256 KiB per MiB) but straight into its own below.
                    in.limit(SHORT_READ);
                    afterLargePayload = false;
                }
                int n = wireIn.read(in);
                in.flip();
                if (n > 0) lastActivityNs = System.nanoTime();
                if (n < 0) {
                    if (stopping) return "server shutting down";
                    return pendingWrite != null || dec.pendingDiscard() > 0
                            ? "client vanished mid-request" : "client closed without DISC";
                }
            } else if (r == RequestDecoder.HEADER) {
                RequestHeader h = dec.header();
                if (h.type() == Nbd.CMD_DISC) {
                    requests++;
                    dec.next();
                    return "client disconnected";
                }
                pendingWrite = onHeader(h, dec);
            } else if (pendingWrite != null) {
                dispatchWrite(pendingWrite);
                pendingWrite = null;
            }
        }
    }

    /** Takes one request off the wire; returns it when its WRITE payload is still to come. */
    private Request onHeader(RequestHeader h, RequestDecoder dec) throws InterruptedException {
        Request req = acquireSlot();
        req.cookie = h.cookie();
        req.offset = h.offset();
        req.length = h.length();
        req.type = h.type();
        req.flags = h.flags();
        req.error = 0;
        req.data = null;
        requests++;
        int err = validate(req);
        if (req.type == Nbd.CMD_WRITE) {
            if (err != 0) {
                dec.discardPayload();
                fail(req, err);
                return null;
            }
            req.data = acquireBuffer((int) req.length);
            dec.expectPayload(req.data.buffer);
            if (req.length == 0) { // no payload to wait for: the decoder is already at the next header
                dispatchWrite(req);
                return null;
            }
            return req;
        }
        dec.next();
        if (err != 0) {
            fail(req, err);
            return null;
        }
        dispatch(req);
        return null;
    }

    private void dispatchWrite(Request req) {
        req.data.buffer.position(0);
        bytesWritten.addAndGet(req.length);
        dispatch(req);
    }

    /** The error the protocol names for a request we will not execute, or 0. */
    private int validate(Request r) {
        int allowed;
        boolean writes = false;
        switch (r.type) {
            case Nbd.CMD_READ -> allowed = structured ? Nbd.CMD_FLAG_DF : 0;
            case Nbd.CMD_WRITE -> { allowed = Nbd.CMD_FLAG_FUA; writes = true; }
            case Nbd.CMD_TRIM -> { allowed = Nbd.CMD_FLAG_FUA; writes = true; }
            case Nbd.CMD_WRITE_ZEROES -> {
                allowed = Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | (export.canFastZero() ? Nbd.CMD_FLAG_FAST_ZERO : 0);
                writes = true;
            }
            case Nbd.CMD_FLUSH, Nbd.CMD_CACHE -> allowed = 0;
            case Nbd.CMD_BLOCK_STATUS -> allowed = Nbd.CMD_FLAG_REQ_ONE;
            default -> { return Nbd.EINVAL; }
        }
        if (writes && export.readOnly()) return Nbd.EPERM;
        if ((r.flags & ~allowed) != 0) return Nbd.EINVAL;
        switch (r.type) {
            case Nbd.CMD_TRIM -> { if (!export.canTrim()) return Nbd.EINVAL; }
            case Nbd.CMD_WRITE_ZEROES -> { if (!export.canWriteZeroes()) return Nbd.EINVAL; }
            case Nbd.CMD_FLUSH -> { if (!export.canFlush()) return Nbd.EINVAL; }
            case Nbd.CMD_CACHE -> { if (!export.canCache()) return Nbd.EINVAL; }
            case Nbd.CMD_BLOCK_STATUS -> {
                if (session.metaContextId() == 0 || r.length == 0) return Nbd.EINVAL;
            }
            default -> { }
        }
        if (r.length > Nbd.MAX_PAYLOAD) {
            if (r.type == Nbd.CMD_READ) return Nbd.EOVERFLOW;
            if (r.type == Nbd.CMD_WRITE) return Nbd.EINVAL;
        }
        if (r.type == Nbd.CMD_FLUSH) return r.offset == 0 && r.length == 0 ? 0 : Nbd.EINVAL;
        // Offsets are unsigned 64-bit: a negative long is past any end.
        if (r.offset < 0 || r.offset > exportSize || r.length > exportSize - r.offset) {
            return r.type == Nbd.CMD_WRITE || r.type == Nbd.CMD_WRITE_ZEROES ? Nbd.ENOSPC : Nbd.EINVAL;
        }
        return 0;
    }

    private void dispatch(Request req) {
        // Large WRITEs go to a worker too: copying 1 MiB into the page cache then overlaps with the reader
        // receiving the next payload, on the other core (fio, 1 MiB writes at QD8: ~2.4 to ~3.6 GB/s here).
        // Large READs likewise: one worker's copy out of the page cache overlaps another's send. Not those sent
        // with sendfile: there is no copy to overlap, the send is under the write lock either way, and a worker
        // would only add a thread hand-off per reply.
        boolean slow = req.type == Nbd.CMD_FLUSH || req.has(Nbd.CMD_FLAG_FUA)
                || (req.type == Nbd.CMD_WRITE && req.length >= PARALLEL_WRITE_BYTES)
                || (req.type == Nbd.CMD_READ && req.length >= PARALLEL_WRITE_BYTES && !mightSendfile(req))
                || !export.completesQuickly(req.offset, req.length);
        if (!slow) {
            execute(req);
            addToBatch(req);
            return;
        }
        Thread.ofVirtual().name("nbd-" + id + "-worker").start(() -> {
            long t0 = System.nanoTime();
            execute(req);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            if (ms > 1000) {
                LOG.log(Level.WARNING, "conn#{0} {1} at {2}+{3} took {4} ms", id, Nbd.commandName(req.type),
                        req.offset, req.length, ms);
            }
            sendNow(req);
        });
    }

    private void fail(Request req, int error) {
        req.error = error;
        encode(req);
        addToBatch(req);
    }

    /** Runs the request against the export and encodes its reply; never throws. */
    private void execute(Request req) {
        try {
            switch (req.type) {
                case Nbd.CMD_READ -> {
                    req.file = sendableFile(req);
                    if (req.file == null) {
                        req.data = acquireBufferForWorker((int) req.length);
                        export.read(req.offset, req.data.buffer);
                        req.data.buffer.flip();
                    }
                    bytesRead.addAndGet(req.length);
                }
                case Nbd.CMD_WRITE -> export.write(req.offset, req.data.buffer, req.has(Nbd.CMD_FLAG_FUA));
                case Nbd.CMD_FLUSH -> export.flush();
                case Nbd.CMD_TRIM -> export.trim(req.offset, req.length, req.has(Nbd.CMD_FLAG_FUA));
                case Nbd.CMD_WRITE_ZEROES -> export.writeZeroes(req.offset, req.length,
                        req.has(Nbd.CMD_FLAG_NO_HOLE), req.has(Nbd.CMD_FLAG_FAST_ZERO), req.has(Nbd.CMD_FLAG_FUA));
                case Nbd.CMD_CACHE -> export.cache(req.offset, req.length);
                case Nbd.CMD_BLOCK_STATUS -> blockStatus(req);
                default -> req.error = Nbd.EINVAL;
            }
        } catch (NbdException e) {
            req.error = e.error();
        } catch (IOException e) {
            req.error = Nbd.EIO;
            LOG.log(Level.WARNING, "conn#{0} {1} at {2}+{3}: {4}", id, Nbd.commandName(req.type), req.offset,
                    req.length, e.toString());
        } catch (InterruptedException e) {
            req.error = Nbd.ESHUTDOWN;
        } catch (RuntimeException | Error e) {
            // An Error too (out of memory, say): the request is answered, never left without a reply.
            req.error = Nbd.EIO;
            LOG.log(Level.ERROR, "conn#" + id + " " + Nbd.commandName(req.type) + " failed", e);
        }
        encode(req);
    }

    /**
     * The file a READ's payload can be sent from with sendfile, or null. Not under TLS (the bytes must be
     * encrypted on their way), and not when the file is shorter than the range now: the payload is then read,
     * zeros past the end as {@link Export#read} gives them, since once the header is out exactly
     * {@code length} bytes must follow.
     */
    private FileChannel sendableFile(Request req) throws IOException {
        if (!mightSendfile(req)) return null;
        FileChannel f = export.sendableRange(req.offset, req.length);
        return f != null && f.size() >= req.offset + req.length ? f : null;
    }

    /** Whether a READ is a candidate for sendfile (its file is then checked in {@link #sendableFile}). */
    private boolean mightSendfile(Request req) {
        return tls == null && req.length >= SENDFILE_BYTES && export.sendableRange(req.offset, req.length) != null;
    }

    private void blockStatus(Request req) throws IOException, InterruptedException {
        int max = req.has(Nbd.CMD_FLAG_REQ_ONE) ? 1 : MAX_EXTENTS;
        req.data = acquireBufferForWorker(max * 8);
        ByteBuffer d = req.data.buffer;
        long[] described = {0};
        export.blockStatus(req.offset, req.length, (len, flags) -> {
            if (len <= 0 || !d.hasRemaining()) return d.hasRemaining();
            long l = Math.min(len, req.length - described[0]);
            if (l <= 0) return false;
            d.putInt((int) l).putInt(flags);
            described[0] += l;
            return described[0] < req.length && d.hasRemaining();
        });
        d.flip();
        if (!d.hasRemaining()) throw new NbdException(Nbd.EIO, "export described no extents");
    }

    /** Writes the reply header for {@code req} and sets up its vector. */
    private void encode(Request req) {
        ByteBuffer h = req.header;
        h.clear();
        boolean chunked = structured && (req.type == Nbd.CMD_READ || req.type == Nbd.CMD_BLOCK_STATUS);
        if (req.error != 0 && req.data != null) {
            pool.release(req.data);
            req.data = null;
        }
        if (req.error != 0) req.file = null;
        if (!chunked) {
            new SimpleReplyHeader().wrap(h, 0).set(req.error, req.cookie);
            h.limit(SimpleReplyHeader.LENGTH);
            req.iov[0] = h;
            if (req.error == 0 && req.type == Nbd.CMD_READ && req.file == null) {
                req.iov[1] = req.data.buffer;
                req.iovCount = 2;
            } else {
                req.iovCount = 1;
            }
            return;
        }
        StructuredReplyHeader s = new StructuredReplyHeader().wrap(h, 0);
        req.iov[0] = h;
        req.iovCount = 1;
        if (req.error != 0) {
            s.set(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, req.cookie, 6);
            h.putInt(StructuredReplyHeader.LENGTH, req.error).putShort(StructuredReplyHeader.LENGTH + 4, (short) 0);
            h.limit(StructuredReplyHeader.LENGTH + 6);
        } else if (req.type == Nbd.CMD_READ) {
            if (req.length == 0) {
                s.set(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, req.cookie, 0);
                h.limit(StructuredReplyHeader.LENGTH);
            } else {
                s.set(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, req.cookie, 8 + req.length);
                h.putLong(StructuredReplyHeader.LENGTH, req.offset);
                h.limit(StructuredReplyHeader.LENGTH + 8);
                if (req.file == null) {
                    req.iov[1] = req.data.buffer;
                    req.iovCount = 2;
                }
            }
        } else {
            ByteBuffer d = req.data.buffer;
            s.set(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, req.cookie, 4 + d.remaining());
            h.putInt(StructuredReplyHeader.LENGTH, session.metaContextId());
            h.limit(StructuredReplyHeader.LENGTH + 4);
            req.iov[1] = d;
            req.iovCount = 2;
        }
    }

    // ---------------------------------------------------------------- replies

    private void addToBatch(Request req) {
        batch.add(req);
        batchBytes += req.replyBytes();
        if (batchBytes >= BATCH_BYTES || batch.size() >= slotCount) flushBatch();
    }

    /** Writes the reader's batched replies in one gathering write, then returns their slots. */
    private void flushBatch() {
        int n = batch.size();
        if (n == 0) return;
        if (!broken) {
            writeLock.lock();
            int v = 0;
            try {
                for (int i = 0; i < n; i++) {
                    Request r = batch.get(i);
                    for (int j = 0; j < r.iovCount; j++) gather[v++] = r.iov[j];
                    if (r.file != null) { // what is gathered so far, this header last, then its payload
                        writeVector(gather, v);
                        java.util.Arrays.fill(gather, 0, v, null);
                        v = 0;
                        sendPayload(r);
                    }
                }
                writeVector(gather, v);
            } catch (IOException e) {
                markBroken(e);
            } finally {
                writeLock.unlock();
                java.util.Arrays.fill(gather, 0, v, null);
            }
        }
        for (int i = 0; i < n; i++) releaseSlot(batch.get(i));
        batch.clear();
        batchBytes = 0;
    }

    /** A worker's reply: written at once, whatever order the requests arrived in. */
    private void sendNow(Request req) {
        if (!broken) {
            writeLock.lock();
            try {
                writeVector(req.iov, req.iovCount);
                if (req.file != null) sendPayload(req);
            } catch (IOException e) {
                markBroken(e);
            } finally {
                writeLock.unlock();
            }
        }
        releaseSlot(req);
    }

    private void writeVector(ByteBuffer[] v, int count) throws IOException {
        int first = 0;
        replyBlockedSinceNs = System.nanoTime();
        try {
            while (first < count) {
                if (wireOut.write(v, first, count - first) > 0) lastActivityNs = System.nanoTime();
                while (first < count && !v[first].hasRemaining()) first++;
            }
        } finally {
            replyBlockedSinceNs = 0;
        }
    }

    /**
     * Sends a READ's {@code length} bytes from its file, after its header; the caller holds {@link #writeLock}.
     * The socket is non-blocking underneath a virtual thread and sendfile does not park: it sends nothing when
     * the socket's buffer is full (or when the file has shrunk). A plain write of a few bytes then parks until
     * the client reads, and sendfile goes on; what is past the file's end goes out as zeros.
     */
    private void sendPayload(Request r) throws IOException {
        long pos = r.offset;
        long end = r.offset + r.length;
        replyBlockedSinceNs = System.nanoTime();
        try {
            while (pos < end) {
                long n = r.file.transferTo(pos, end - pos, ch);
                if (n <= 0) n = writeStalled(r.file, pos, (int) Math.min(STALL_WRITE, end - pos));
                pos += n;
                lastActivityNs = System.nanoTime();
            }
        } finally {
            replyBlockedSinceNs = 0;
        }
    }

    private int writeStalled(FileChannel file, long pos, int length) throws IOException {
        if (stallBuffer == null) stallBuffer = ByteBuffer.allocateDirect(STALL_WRITE);
        ByteBuffer b = stallBuffer.clear().limit(length);
        while (b.hasRemaining()) {
            if (file.read(b, pos + b.position()) < 0) {
                while (b.hasRemaining()) b.put((byte) 0);
            }
        }
        b.flip();
        while (b.hasRemaining()) ch.write(b);
        return length;
    }

    private void markBroken(IOException e) {
        if (!broken) brokenReason = "reply failed: " + e.getMessage();
        broken = true;
        try {
            ch.shutdownInput(); // wake the reader
        } catch (IOException ignored) {
            // closed already
        }
    }

    // ---------------------------------------------------------------- slots and buffers

    /** A request slot of this connection, and a request of the server's budget with it. */
    private Request acquireSlot() throws InterruptedException {
        Request r = acquireLocalSlot();
        if (server.budget().tryRequest()) return r;
        try {
            flushBatch(); // our own batched replies may be what the server is waiting for
            server.budget().acquireRequest();
        } catch (InterruptedException | RuntimeException e) {
            returnSlot(r);
            throw e;
        }
        return r;
    }

    private Request acquireLocalSlot() throws InterruptedException {
        slotLock.lock();
        try {
            if (freeCount > 0) return freeSlots[--freeCount];
        } finally {
            slotLock.unlock();
        }
        flushBatch();
        slotLock.lock();
        try {
            while (freeCount == 0) slotFreed.await();
            return freeSlots[--freeCount];
        } finally {
            slotLock.unlock();
        }
    }

    private void releaseSlot(Request req) {
        if (req.data != null) {
            pool.release(req.data);
            req.data = null;
        }
        req.iov[0] = req.iov[1] = null;
        req.file = null;
        server.budget().releaseRequest();
        returnSlot(req);
    }

    private void returnSlot(Request req) {
        slotLock.lock();
        try {
            freeSlots[freeCount++] = req;
            slotFreed.signal();
        } finally {
            slotLock.unlock();
        }
    }

    /** Reader-side buffer: flushes its own batch before waiting, so it never waits on itself. */
    private BufferPool.Buf acquireBuffer(int length) throws InterruptedException {
        BufferPool.Buf b = pool.tryAcquire(length);
        if (b != null) return b;
        flushBatch();
        return pool.acquire(length);
    }

    private BufferPool.Buf acquireBufferForWorker(int length) throws InterruptedException {
        return isReader() ? acquireBuffer(length) : pool.acquire(length);
    }

    private volatile Thread readerThread;

    private boolean isReader() {
        return Thread.currentThread() == readerThread;
    }

    void setReaderThread(Thread t) {
        readerThread = t;
    }

    /** Waits until every request slot is back (all replies sent), up to {@code nanos}. */
    private boolean awaitIdle(long nanos) {
        slotLock.lock();
        try {
            long left = nanos;
            while (freeCount < slotCount) {
                if (left <= 0) return false;
                left = slotFreed.awaitNanos(left);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            slotLock.unlock();
        }
    }

    private int inFlight() {
        slotLock.lock();
        try {
            return slotCount - freeCount;
        } finally {
            slotLock.unlock();
        }
    }

    long id() {
        return id;
    }
}

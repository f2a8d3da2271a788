package io.bmcast.transport;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * TLS over a blocking {@link SocketChannel} (TCP or Unix: the JDK's {@code SSLSocket} needs a
 * {@code Socket}, which Unix-domain channels do not have), with an {@link SSLEngine} doing the records.
 * The NBD code reads and gathers-writes it exactly as it would the plain channel.
 *
 * <p>The data path: a gathering write seals as many 16 KiB records as fit in one reused direct buffer
 * (256 KiB) straight from the caller's buffers, then writes it with one call; a read receives into a
 * reused direct buffer and opens records straight into the caller's buffer while it has room for a whole
 * record, so a 256 KiB NBD receive buffer or a large READ payload is filled without an extra copy. Only a
 * caller with less room than one record is served through a small staging buffer.
 *
 * <p>One reader and one writer may run at once (the engine allows a wrap beside an unwrap): reads hold
 * {@link #readLock}, writes {@link #writeLock}. A handshake message the engine must send while reading (a
 * TLS 1.3 key update, a session ticket) is sent under the write lock.
 */
final class TlsChannel implements ReadableByteChannel, GatheringByteChannel {
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
    private static final int NET_BUFFER = 256 << 10;

    private final SocketChannel ch;
    private final SSLEngine engine;
    private final String peer;
    // Guards netIn, appIn and inboundClosed.
    private final ReentrantLock readLock = new ReentrantLock();
    // Guards netOut and every write to ch.
    private final ReentrantLock writeLock = new ReentrantLock();
    /** Received ciphertext not yet opened; always flipped (position..limit is pending). */
    private ByteBuffer netIn;
    /** Opened plaintext not yet delivered; always flipped. */
    private ByteBuffer appIn;
    /** Sealed records on their way out; only used under writeLock. */
    private ByteBuffer netOut;
    private boolean inboundClosed;

    private TlsChannel(SocketChannel ch, SSLEngine engine, String peer) {
        this.ch = ch;
        this.engine = engine;
        this.peer = peer;
        int packet = engine.getSession().getPacketBufferSize();
        this.netIn = ByteBuffer.allocateDirect(Math.max(NET_BUFFER, 2 * packet)).flip();
        this.netOut = ByteBuffer.allocateDirect(Math.max(NET_BUFFER, 2 * packet));
        this.appIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize()).flip();
    }

    /**
     * Runs the TLS handshake on {@code ch} (right after STARTTLS was agreed) and returns the channel to
     * carry the rest of the session. A failure is an {@link IOException} whose message is one sentence
     * saying why (an unknown CA, a host name the certificate does not name, a refused client certificate).
     */
    static TlsChannel handshake(SocketChannel ch, SSLEngine engine, String peer) throws IOException {
        TlsChannel t = new TlsChannel(ch, engine, peer);
        t.readLock.lock();
        t.writeLock.lock();
        try {
            t.runHandshake();
        } catch (SSLException e) {
            t.sendAlert();
            throw failure(e, engine.getUseClientMode(), peer);
        } finally {
            t.writeLock.unlock();
            t.readLock.unlock();
        }
        return t;
    }

    private void runHandshake() throws IOException {
        engine.beginHandshake();
        HandshakeStatus hs = engine.getHandshakeStatus();
        while (true) {
            switch (hs) {
                case NEED_WRAP -> {
                    netOut.clear();
                    SSLEngineResult r = engine.wrap(EMPTY, netOut);
                    netOut.flip();
                    writeNet();
                    if (r.getStatus() == SSLEngineResult.Status.CLOSED) throw new EOFException("TLS closed during the handshake");
                    hs = r.getHandshakeStatus();
                }
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    appIn.compact();
                    SSLEngineResult r;
                    try {
                        r = engine.unwrap(netIn, appIn);
                    } finally {
                        appIn.flip();
                    }
                    switch (r.getStatus()) {
                        case BUFFER_UNDERFLOW -> {
                            if (readNet() < 0) throw new EOFException("the peer closed the connection during the TLS handshake");
                        }
                        case BUFFER_OVERFLOW -> growAppIn();
                        case CLOSED -> throw new EOFException("the peer closed TLS during the handshake");
                        case OK -> { }
                    }
                    hs = r.getHandshakeStatus();
                    if (hs == HandshakeStatus.NOT_HANDSHAKING && r.getStatus() != SSLEngineResult.Status.OK) hs = engine.getHandshakeStatus();
                }
                case NEED_TASK -> {
                    runTasks();
                    hs = engine.getHandshakeStatus();
                }
                case FINISHED, NOT_HANDSHAKING -> {
                    return;
                }
            }
        }
    }

    /** The protocol and cipher agreed, e.g. for a log line. */
    String describe() {
        return engine.getSession().getProtocol() + " " + engine.getSession().getCipherSuite();
    }

    // ---------------------------------------------------------------------------------------------- reading

    @Override
    public int read(ByteBuffer dst) throws IOException {
        readLock.lock();
        try {
            if (appIn.hasRemaining()) return transfer(appIn, dst);
            if (inboundClosed) return -1;
            int total = 0;
            while (true) {
                if (netIn.hasRemaining()) {
                    boolean direct = dst.remaining() >= engine.getSession().getApplicationBufferSize();
                    SSLEngineResult r;
                    if (direct) {
                        r = engine.unwrap(netIn, dst);
                    } else {
                        appIn.clear();
                        try {
                            r = engine.unwrap(netIn, appIn);
                        } finally {
                            appIn.flip();
                        }
                    }
                    afterUnwrap(r);
                    switch (r.getStatus()) {
                        case OK -> {
                            if (!direct) {
                                if (appIn.hasRemaining()) return total + transfer(appIn, dst);
                            } else {
                                total += r.bytesProduced();
                            }
                            continue; // another whole record may be waiting (or this one was a handshake message)
                        }
                        case CLOSED -> {
                            inboundClosed = true;
                            return total > 0 ? total : -1;
                        }
                        case BUFFER_OVERFLOW -> {
                            if (!direct) growAppIn();
                            if (total > 0) return total;
                            continue;
                        }
                        case BUFFER_UNDERFLOW -> { } // a partial record: read more below
                    }
                }
                if (total > 0) return total;
                if (readNet() < 0) {
                    // EOF without close_notify: as the plain channel would say it.
                    inboundClosed = true;
                    return -1;
                }
            }
        } catch (SSLException e) {
            // In TLS 1.3 a server's verdict on our certificate arrives after our side of the handshake is done.
            throw failure(e, engine.getUseClientMode(), peer);
        } finally {
            readLock.unlock();
        }
    }

    private void afterUnwrap(SSLEngineResult r) throws IOException {
        HandshakeStatus hs = r.getHandshakeStatus();
        while (hs == HandshakeStatus.NEED_TASK || hs == HandshakeStatus.NEED_WRAP) {
            if (hs == HandshakeStatus.NEED_TASK) {
                runTasks();
            } else {
                writeLock.lock();
                try {
                    netOut.clear();
                    SSLEngineResult w = engine.wrap(EMPTY, netOut);
                    netOut.flip();
                    writeNet();
                    if (w.bytesProduced() == 0) return; // nothing left to say (our side is closed)
                } finally {
                    writeLock.unlock();
                }
            }
            hs = engine.getHandshakeStatus();
        }
    }

    private static int transfer(ByteBuffer from, ByteBuffer to) {
        int n = Math.min(from.remaining(), to.remaining());
        to.put(to.position(), from, from.position(), n);
        to.position(to.position() + n);
        from.position(from.position() + n);
        return n;
    }

    /** Receives more ciphertext into {@link #netIn}; -1 at EOF. */
    private int readNet() throws IOException {
        netIn.compact();
        try {
            if (!netIn.hasRemaining()) {
                ByteBuffer bigger = ByteBuffer.allocateDirect(netIn.capacity() * 2);
                netIn.flip();
                bigger.put(netIn);
                netIn = bigger;
            }
            return ch.read(netIn);
        } finally {
            netIn.flip();
        }
    }

    private void growAppIn() {
        int want = engine.getSession().getApplicationBufferSize() + appIn.remaining();
        if (appIn.capacity() >= want) return;
        ByteBuffer bigger = ByteBuffer.allocate(want);
        bigger.put(appIn).flip();
        appIn = bigger;
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) task.run();
    }

    // ---------------------------------------------------------------------------------------------- writing

    @Override
    public int write(ByteBuffer src) throws IOException {
        return (int) write(new ByteBuffer[] {src}, 0, 1);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    /** Seals and sends all of {@code srcs} (blocking, like the plain channel); returns the plaintext bytes. */
    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        long left = 0;
        for (int i = offset; i < offset + length; i++) left += srcs[i].remaining();
        long total = 0;
        writeLock.lock();
        try {
            int packet = engine.getSession().getPacketBufferSize();
            while (left > 0) {
                netOut.clear();
                while (left > 0 && netOut.remaining() >= packet) {
                    SSLEngineResult r = engine.wrap(srcs, offset, length, netOut);
                    if (r.getStatus() == SSLEngineResult.Status.CLOSED) throw new ClosedChannelException();
                    if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) break;
                    left -= r.bytesConsumed();
                    total += r.bytesConsumed();
                    if (r.getHandshakeStatus() == HandshakeStatus.NEED_TASK) runTasks();
                }
                netOut.flip();
                if (!netOut.hasRemaining()) throw new IOException("TLS engine produced no record for " + left + " bytes");
                writeNet();
            }
            return total;
        } catch (SSLException e) {
            throw failure(e, engine.getUseClientMode(), peer);
        } finally {
            writeLock.unlock();
        }
    }

    private void writeNet() throws IOException {
        while (netOut.hasRemaining()) ch.write(netOut);
    }

    // ---------------------------------------------------------------------------------------------- closing

    /** Sends close_notify (best effort, never blocks on a writer that is stuck); the socket stays open. */
    void closeOutbound() {
        if (!writeLock.tryLock()) return;
        try {
            engine.closeOutbound();
            netOut.clear();
            engine.wrap(EMPTY, netOut);
            netOut.flip();
            writeNet();
        } catch (IOException e) {
            // the peer is gone
        } finally {
            writeLock.unlock();
        }
    }

    /** After a failed handshake: the alert the engine holds goes out, so the peer learns why. */
    private void sendAlert() {
        try {
            engine.closeOutbound();
            netOut.clear();
            engine.wrap(EMPTY, netOut);
            netOut.flip();
            writeNet();
        } catch (IOException | RuntimeException e) {
            // best effort
        }
    }

    @Override
    public boolean isOpen() {
        return ch.isOpen();
    }

    @Override
    public void close() throws IOException {
        closeOutbound();
        ch.close();
    }

    /** One sentence for a failed handshake: who refused what, without the JDK's stack of causes. */
    static TlsHandshakeException failure(SSLException e, boolean client, String peer) {
        String why = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertPathValidatorException || (t.getMessage() != null && t.getMessage().contains("PKIX path"))) {
                why = client ? "the server's certificate is not signed by our CA (ca-cert.pem)"
                        : "the client's certificate is not signed by our CA (ca-cert.pem)";
                break;
            }
            if (t instanceof CertificateException && t.getMessage() != null
                    && (t.getMessage().contains("No subject alternative") || t.getMessage().contains("No name matching"))) {
                why = "the server's certificate does not name the host we connected to (" + t.getMessage() + ")";
                break;
            }
        }
        String msg = e.getMessage() == null ? e.toString() : e.getMessage();
        if (why == null) {
            if (client && msg.contains("certificate_required")) {
                // The JDK presents a certificate only if the server's CA signed it: none, or another CA's, ends here.
                why = "the server requires a client certificate signed by its CA (client-cert.pem, client-key.pem in the TLS directory)";
            } else if (msg.contains("Empty client certificate chain") || msg.contains("certificate_required")) {
                why = "the client presented no certificate, and this server verifies peers";
            } else if (msg.contains("bad_certificate") || msg.contains("unknown_ca") || msg.contains("certificate_unknown")
                    || msg.contains("certificate_required") || msg.contains("decrypt_error")) {
                why = (client ? "the server" : "the client") + " refused our certificate (" + msg + ")";
            } else {
                why = msg;
            }
        }
        return new TlsHandshakeException("TLS with " + peer + " failed: " + why, e);
    }

}

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
 * <p>The data path works on reused heap buffers, never direct ones: the JDK's AES-GCM runs its
 * intrinsic (AES-NI, carry-less multiply) only on arrays, and on direct buffers it was 3x slower here (16 KiB
 * records, warm: 500 MB/s heap to heap, 160-190 MB/s with either side direct), which left a TLS server
 * at a tenth of nbdkit's read rate. So a gathering write copies up to 64 KiB of the caller's (direct) NBD
 * buffers into {@link #plainOut}, seals it record by record into {@link #netOut} and writes that; a read
 * receives into {@link #netIn}, opens as many whole records as fit into {@link #appIn} and copies out. The
 * two memcpys cost far less than the slow cipher path did. A heap destination with room for a whole
 * record is opened into directly.
 *
 * <p>One reader and one writer may run at once (the engine allows a wrap beside an unwrap): reads hold
 * {@link #readLock}, writes {@link #writeLock}. A handshake message the engine must send while reading (a
 * TLS 1.3 key update, a session ticket) is sent under the write lock.
 */
final class TlsChannel implements ReadableByteChannel, GatheringByteChannel {
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
    /**
     * Records per buffer. Four 16 KiB records per system call keep the copy and syscall costs small next to
     * the cipher's, and bound what one TLS connection holds to about 260 KiB of heap (four buffers), so a
     * thousand connections that sit after STARTTLS cost a quarter of a GiB, not a GiB.
     */
    private static final int RECORDS = 4;

    private final SocketChannel ch;
    private final SSLEngine engine;
    private final String peer;
    /** The CA file peers are checked against, for messages. */
    private final String trust;
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
    /** The caller's plaintext, staged on the heap for the cipher; only used under writeLock. */
    private final ByteBuffer plainOut = ByteBuffer.allocate(RECORDS << 14);
    private boolean inboundClosed;

    private TlsChannel(SocketChannel ch, SSLEngine engine, String peer, String trust) {
        this.ch = ch;
        this.engine = engine;
        this.peer = peer;
        this.trust = trust;
        int packet = engine.getSession().getPacketBufferSize();
        this.netIn = ByteBuffer.allocate(RECORDS * packet).flip();
        this.netOut = ByteBuffer.allocate(RECORDS * packet);
        this.appIn = ByteBuffer.allocate(RECORDS * engine.getSession().getApplicationBufferSize()).flip();
    }

    /**
     * Runs the TLS handshake on {@code ch} (right after STARTTLS was agreed) and returns the channel to
     * carry the rest of the session. A failure is an {@link IOException} whose message is one sentence
     * saying why (an unknown CA, a host name the certificate does not name, a refused client certificate).
     */
    static TlsChannel handshake(SocketChannel ch, SSLEngine engine, String peer) throws IOException {
        return handshake(ch, engine, peer, "ca-cert.pem");
    }

    /** {@code trust}: the CA file the peer's certificate is checked against, as messages name it. */
    static TlsChannel handshake(SocketChannel ch, SSLEngine engine, String peer, String trust) throws IOException {
        TlsChannel t = new TlsChannel(ch, engine, peer, trust);
        t.readLock.lock();
        t.writeLock.lock();
        try {
            t.runHandshake();
        } catch (SSLException e) {
            t.sendAlert();
            throw failure(e, engine.getUseClientMode(), peer, trust);
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

    /** Set once the peer sent application data: from then on, a failed write is not a handshake's verdict. */
    private volatile boolean dataSeen;

    @Override
    public int read(ByteBuffer dst) throws IOException {
        readLock.lock();
        try {
            if (appIn.hasRemaining()) return transfer(appIn, dst);
            if (inboundClosed) return -1;
            while (true) {
                if (netIn.hasRemaining()) {
                    int appSize = engine.getSession().getApplicationBufferSize();
                    boolean direct = dst.hasArray() && dst.remaining() >= appSize;
                    ByteBuffer target = direct ? dst : appIn.clear();
                    int produced = 0;
                    SSLEngineResult.Status status = SSLEngineResult.Status.OK;
                    try {
                        // Open every whole record that is here and fits.
                        while (netIn.hasRemaining() && target.remaining() >= appSize) {
                            SSLEngineResult r = engine.unwrap(netIn, target);
                            afterUnwrap(r);
                            status = r.getStatus();
                            produced += r.bytesProduced();
                            if (status != SSLEngineResult.Status.OK) break;
                        }
                    } finally {
                        if (!direct) appIn.flip();
                    }
                    if (status == SSLEngineResult.Status.CLOSED) inboundClosed = true;
                    if (produced > 0) {
                        dataSeen = true;
                        return direct ? produced : transfer(appIn, dst);
                    }
                    if (inboundClosed) return -1;
                    if (status == SSLEngineResult.Status.BUFFER_OVERFLOW) {
                        growAppIn();
                        continue;
                    }
                    // OK with nothing produced: a handshake message (a session ticket) was consumed; go on.
                    if (status == SSLEngineResult.Status.OK && netIn.hasRemaining()) continue;
                }
                if (readNet() < 0) {
                    // EOF without close_notify: as the plain channel would say it.
                    inboundClosed = true;
                    return -1;
                }
            }
        } catch (SSLException e) {
            // In TLS 1.3 a server's verdict on our certificate arrives after our side of the handshake is done.
            throw failure(e, engine.getUseClientMode(), peer, trust);
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
            int next = offset;
            while (left > 0) {
                // Stage the next slice of the caller's buffers on the heap (see the class comment).
                plainOut.clear();
                while (plainOut.hasRemaining() && next < offset + length) {
                    ByteBuffer src = srcs[next];
                    int n = Math.min(src.remaining(), plainOut.remaining());
                    plainOut.put(plainOut.position(), src, src.position(), n);
                    plainOut.position(plainOut.position() + n);
                    src.position(src.position() + n);
                    if (!src.hasRemaining()) next++;
                }
                plainOut.flip();
                int staged = plainOut.remaining();
                netOut.clear();
                while (plainOut.hasRemaining()) {
                    if (netOut.remaining() < packet) {
                        netOut.flip();
                        writeNet();
                        netOut.clear();
                    }
                    SSLEngineResult r = engine.wrap(plainOut, netOut);
                    if (r.getStatus() == SSLEngineResult.Status.CLOSED) throw new ClosedChannelException();
                    if (r.getHandshakeStatus() == HandshakeStatus.NEED_TASK) runTasks();
                    if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
                        if (netOut.position() == 0) throw new IOException("TLS record larger than the output buffer");
                        netOut.flip();
                        writeNet();
                        netOut.clear();
                    }
                }
                netOut.flip();
                writeNet();
                left -= staged;
                total += staged;
            }
            return total;
        } catch (SSLException e) {
            throw failure(e, engine.getUseClientMode(), peer, trust);
        } catch (IOException e) {
            TlsHandshakeException why = alertBehind(e);
            if (why != null) throw why;
            if (engine.getUseClientMode() && !dataSeen) {
                // The alert was lost with the connection (a reset can drop what was unread): say what it most
                // likely was rather than "Broken pipe".
                throw new TlsHandshakeException("TLS with " + peer + " failed: the server hung up right after the handshake ("
                        + e.getMessage() + "); a server that verifies peers does so when it requires a client certificate"
                        + " signed by its CA and ours is missing or signed by another", e);
            }
            throw e;
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * A client's first write can meet a closed socket because, in TLS 1.3, the server judges our certificate
     * after our side of the handshake is done, sends its alert and hangs up. The alert then waits unread in
     * the socket: read it, so the error says why rather than "Broken pipe". Null when there is none.
     */
    private TlsHandshakeException alertBehind(IOException writeFailure) {
        if (!engine.getUseClientMode() || !readLock.tryLock()) return null;
        try {
            ByteBuffer scratch = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize());
            for (int i = 0; i < 4; i++) {
                while (netIn.hasRemaining()) {
                    SSLEngineResult r = engine.unwrap(netIn, scratch.clear());
                    if (r.getStatus() != SSLEngineResult.Status.OK) break;
                }
                if (readNet() < 0) return null;
            }
            return null;
        } catch (SSLException e) {
            return failure(e, true, peer, trust);
        } catch (IOException e) {
            return null;
        } finally {
            readLock.unlock();
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
    static TlsHandshakeException failure(SSLException e, boolean client, String peer, String trust) {
        String why = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertPathValidatorException || (t.getMessage() != null && t.getMessage().contains("PKIX path"))) {
                why = (client ? "the server's" : "the client's") + " certificate is not signed by our CA (" + trust + ")";
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
                // To a server that names its CAs (nbdkit, qemu-nbd) the JDK presents a certificate only if one of
                // them signed it: none, or another CA's, ends here.
                why = "the server requires a client certificate signed by its CA (client-cert.pem, client-key.pem in the TLS directory)";
            } else if (client && (msg.contains("certificate_unknown") || msg.contains("unknown_ca") || msg.contains("bad_certificate"))) {
                // A server that names no CA (ours: UnlistedCaTrustManager) is shown whatever we have, and refuses it.
                why = "the server refused our client certificate (client-cert.pem): it requires a client certificate signed by its CA (" + msg + ")";
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

package io.bmcast.imagestore;

import io.bmcast.imagestore.ChunkSocketFrames.Status;
import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A deployment's chunks, served to its own node's peer server over a Unix socket ({@link ChunkSocketFrames}): the
 * mediator of {@code instance run --chunk-socket PATH} answers with {@link ChunkFetcher#serve}, so that a member
 * below this node in a chunk's tree gets the chunk as soon as this deployment has it (held, joined in flight, or
 * pulled through its own chain), not a 404 and then the store.
 *
 * <p>The socket is readable and writable by its owner only (0600): it is bound under a temporary name, its mode set,
 * then renamed into place, so it is never reachable with a wider mode. Each connection is served on a virtual thread;
 * {@link #close} stops them all and removes the socket.
 */
public final class ChunkSocketServer implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.imagestore");

    private final Path path;
    private final ServerSocketChannel server;
    private final ChunkProvider chunks;
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    private ChunkSocketServer(Path path, ServerSocketChannel server, ChunkProvider chunks) {
        this.path = path;
        this.server = server;
        this.chunks = chunks;
        this.acceptor = Thread.ofVirtual().name("chunk-socket").unstarted(this::accept);
    }

    /**
     * Serves {@code chunks} on {@code socket}; a stale socket file there (a mediator that died) is replaced.
     *
     * @throws IOException another server listens there, or the socket cannot be made
     */
    public static ChunkSocketServer start(Path socket, ChunkProvider chunks) throws IOException {
        Path p = socket.toAbsolutePath();
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && ChunkSocketClient.listening(p)) {
            throw new IOException("chunk socket " + p + " is in use by another deployment");
        }
        Path fresh = p.resolveSibling(p.getFileName() + ".new");
        Files.deleteIfExists(fresh);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(fresh), 64);
            Files.setPosixFilePermissions(fresh, PosixFilePermissions.fromString("rw-------"));
            Files.move(fresh, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(fresh);
            throw new IOException("cannot serve chunks on " + p + ": " + e.getMessage(), e);
        }
        ChunkSocketServer s = new ChunkSocketServer(p, ch, chunks);
        s.acceptor.start();
        return s;
    }

    public Path path() {
        return path;
    }

    private void accept() {
        while (!closed) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (IOException e) {
                if (!closed) LOG.log(Level.WARNING, "chunk socket " + path + " stopped accepting: " + e.getMessage());
                return;
            }
            open.add(c);
            Thread.ofVirtual().name("chunk-socket-conn").start(() -> serve(c));
            if (closed) close(c); // closed while accepting: close() may have missed it
        }
    }

    /** Answers requests on {@code c} one after another until the asker closes it. */
    private void serve(SocketChannel c) {
        ByteBuffer request = ByteBuffer.allocate(ChunkSocketFrames.REQUEST_LENGTH);
        try (c) {
            while (true) {
                request.clear();
                if (!readFully(c, request)) return;
                request.flip();
                ChunkSocketFrames.Request r;
                try {
                    r = ChunkSocketFrames.request(request);
                } catch (ChunkSocketFrames.Malformed e) {
                    reply(c, Status.FAILED, ChunkSocketFrames.sentence(e.getMessage()));
                    return; // out of step with the asker: nothing after this can be trusted
                }
                ByteBuffer chunk;
                try {
                    chunk = chunks.provide(r.sha256(), r.background());
                } catch (IOException | RuntimeException e) {
                    reply(c, Status.FAILED, ChunkSocketFrames.sentence(e.getMessage()));
                    continue;
                }
                if (chunk == null) reply(c, Status.NOT_IN_IMAGE, ByteBuffer.allocate(0));
                else reply(c, Status.OK, chunk.duplicate());
            }
        } catch (ClosedChannelException | EOFException gone) {
            // the asker went away, or the server is closing
        } catch (IOException e) {
            if (!closed) LOG.log(Level.DEBUG, "chunk socket " + path + ": " + e.getMessage());
        } finally {
            open.remove(c);
        }
    }

    /** Fills {@code b}; false at a clean end of stream before its first byte. */
    private static boolean readFully(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                if (b.position() == 0) return false;
                throw new EOFException("the asker closed the chunk socket mid-request");
            }
        }
        return true;
    }

    private static void reply(SocketChannel c, Status status, ByteBuffer body) throws IOException {
        ByteBuffer[] frame = {ChunkSocketFrames.replyHeader(status, body.remaining()), body};
        while (frame[1].hasRemaining() || frame[0].hasRemaining()) c.write(frame);
    }

    private static void close(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    /** Stops accepting, ends every connection (a request being answered ends with it) and removes the socket. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (SocketChannel c : open) close(c);
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "cannot remove " + path + ": " + e.getMessage());
        }
    }
}

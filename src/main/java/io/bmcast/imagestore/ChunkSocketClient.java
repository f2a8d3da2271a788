package io.bmcast.imagestore;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Asks a deployment on this node for a chunk through its chunk socket ({@link ChunkSocketServer}, frames in
 * {@link ChunkSocketFrames}): one connection per request, so that a slow answer (a chunk pulled through from the
 * store) never holds up another. The answer is the chunk's stored bytes as the deployment verified them; the peer
 * server checks them again before they leave the node, as it checks its cache's.
 */
public final class ChunkSocketClient implements ChunkProvider {
    /**
     * The longest an answer is awaited: a pull-through waits at most for the deployment's own fetch, which gives up
     * after its {@code --give-up} (60 s by default); an answer later than this finds the asking peer gone anyway.
     */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private final Path socket;
    private final Duration timeout;

    /** Nothing listens on the socket: no deployment there (not started yet, or ended). */
    public static final class NotListening extends IOException {
        NotListening(String sentence, Throwable cause) {
            super(sentence, cause);
        }
    }

    public ChunkSocketClient(Path socket) {
        this(socket, DEFAULT_TIMEOUT);
    }

    public ChunkSocketClient(Path socket, Duration timeout) {
        this.socket = socket.toAbsolutePath();
        this.timeout = timeout;
    }

    public Path socket() {
        return socket;
    }

    /** Whether a server accepts connections on {@code socket} now. */
    public static boolean listening(Path socket) {
        try (SocketChannel ignored = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The chunk's stored bytes, or null when the deployment's image has no chunk of that name.
     *
     * @throws NotListening no deployment listens on the socket
     * @throws IOException the deployment could not get the chunk (its sentence), or broke off, or did not answer in
     *     time
     */
    @Override
    public ByteBuffer provide(String sha256, boolean background) throws IOException {
        SocketChannel c;
        try {
            c = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            throw new NotListening("no deployment listens on " + socket + ": " + e.getMessage(), e);
        }
        // A blocking channel has no read timeout: closing it from a timer ends a read that waits too long.
        CompletableFuture<Void> done = new CompletableFuture<>();
        done.completeOnTimeout(null, timeout.toMillis(), TimeUnit.MILLISECONDS).thenRun(() -> closeQuietly(c));
        try (c) {
            ByteBuffer req = ChunkSocketFrames.request(sha256, background);
            while (req.hasRemaining()) c.write(req);
            ByteBuffer head = ByteBuffer.allocate(ChunkSocketFrames.REPLY_HEADER_LENGTH);
            readFully(c, head);
            ChunkSocketFrames.ReplyHeader h = ChunkSocketFrames.replyHeader(head.flip());
            ByteBuffer body = ByteBuffer.allocate(h.length());
            readFully(c, body);
            body.flip();
            return switch (h.status()) {
                case OK -> body;
                case NOT_IN_IMAGE -> null;
                case FAILED -> throw new IOException(new String(body.array(), 0, body.limit(), StandardCharsets.UTF_8));
            };
        } catch (AsynchronousCloseException e) {
            throw new IOException("the deployment on " + socket + " did not answer for chunk " + sha256 + " within "
                    + timeout.toSeconds() + " s", e);
        } finally {
            done.cancel(false);
        }
    }

    private void readFully(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (c.read(b) < 0) throw new IOException("the deployment on " + socket + " closed its chunk socket mid-answer");
        }
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}

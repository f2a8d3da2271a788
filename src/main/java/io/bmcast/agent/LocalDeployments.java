package io.bmcast.agent;

import io.bmcast.imagestore.ChunkProvider;
import io.bmcast.imagestore.ChunkSocketClient;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * What the node's peer server falls back to for a chunk its cache lacks: the deployments running on this node,
 * asked through their chunk sockets ({@code instance run --chunk-socket}). Usually one (a node runs one instance);
 * none, or none whose image has the chunk: null, and the peer server answers 404.
 *
 * <p>A deployment that was just started may not listen yet (its mediator's JVM is starting, its manifest on its way):
 * a member below it that asks now is held until it does, for at most {@link #STARTUP_WAIT} per request and only
 * within {@link #STARTUP_WINDOW} of the start, rather than sent to the store by a 404. Only then: once it was heard
 * (an answer, or its instance seen past starting), a socket nobody listens on is a deployment that ended
 * (de-virtualized, its mediator gone; or failed), and the cache alone answers at once.
 */
final class LocalDeployments implements ChunkProvider {
    static final Duration STARTUP_WINDOW = Duration.ofSeconds(60);
    static final Duration STARTUP_WAIT = Duration.ofSeconds(5);
    private static final long POLL_MS = 20;

    /** Each deployment's socket, and until when (the clock's nanoseconds) a request may wait for it to listen. */
    private final Map<Path, Long> waitUntil = new ConcurrentHashMap<>();
    private final LongSupplier nanoTime;

    LocalDeployments() {
        this(System::nanoTime);
    }

    /** Visible for testing: another clock. */
    LocalDeployments(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** A deployment starts that will serve its chunks on {@code socket} (a path used again replaces the old one). */
    void starting(Path socket) {
        waitUntil.put(socket.toAbsolutePath(), nanoTime.getAsLong() + STARTUP_WINDOW.toNanos());
    }

    /** A deployment already running (found by a restarted agent): asked, never waited for. */
    void running(Path socket) {
        waitUntil.put(socket.toAbsolutePath(), nanoTime.getAsLong());
    }

    /** The deployment on {@code socket} is past its start (heard, or its instance seen streaming): never waited for again. */
    void started(Path socket) {
        long now = nanoTime.getAsLong();
        waitUntil.computeIfPresent(socket.toAbsolutePath(), (k, until) -> Math.min(until, now));
    }

    /** The deployment on {@code socket} ended: not asked again (until a deployment starts there again). */
    void ended(Path socket) {
        waitUntil.remove(socket.toAbsolutePath());
    }

    /** The sockets of the deployments known now. */
    java.util.Set<Path> sockets() {
        return java.util.Set.copyOf(waitUntil.keySet());
    }

    @Override
    public ByteBuffer provide(String sha256, boolean background) throws IOException {
        for (Map.Entry<Path, Long> d : waitUntil.entrySet()) {
            ByteBuffer b = ask(d.getKey(), d.getValue(), sha256, background);
            if (b != null) return b;
        }
        return null;
    }

    /** The chunk from the deployment on {@code socket}, or null when it has none (or is gone). */
    private ByteBuffer ask(Path socket, long until, String sha256, boolean background) throws IOException {
        long deadline = Math.min(nanoTime.getAsLong() + STARTUP_WAIT.toNanos(), until);
        ChunkSocketClient client = new ChunkSocketClient(socket);
        while (true) {
            try {
                ByteBuffer b = client.provide(sha256, background);
                started(socket);
                return b;
            } catch (ChunkSocketClient.NotListening e) {
                // A file nobody listens on: a mediator that died (or is being restarted); no file past the start: ended.
                if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS) || nanoTime.getAsLong() - deadline >= 0) return null;
                try {
                    Thread.sleep(POLL_MS);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting for the deployment on " + socket);
                }
            }
        }
    }
}

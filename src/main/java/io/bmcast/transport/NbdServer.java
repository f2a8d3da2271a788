package io.bmcast.transport;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An NBD server (fixed newstyle, structured replies, {@code base:allocation}) serving a set of named
 * {@link Export}s on one or more {@link Listener}s, a virtual thread per connection.
 *
 * <pre>{@code
 * NbdServer server = new NbdServer(Map.of("debian", export), NbdServer.Config.defaults());
 * server.start(Listener.unix(Path.of("/run/bmcast/images.sock")));
 * ...
 * server.close(); // stop accepting, let requests in flight finish (bounded), close the exports
 * }</pre>
 */
public final class NbdServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

    /**
     * Tunables.
     *
     * @param defaultExport export served under the empty name, or null for none
     * @param maxRequestsInFlight requests one connection may have outstanding before we stop reading it
     * @param maxBytesInFlight payload bytes one connection may have buffered (at least 32 MiB + 4 KiB)
     * @param shutdownGraceNanos how long {@link #close} waits for requests in flight
     * @param closeExports whether {@link #close} closes the exports
     */
    public record Config(String defaultExport, int maxRequestsInFlight, long maxBytesInFlight,
                         long shutdownGraceNanos, boolean closeExports) {
        public Config {
            if (maxRequestsInFlight < 1) throw new IllegalArgumentException("maxRequestsInFlight < 1");
            if (maxBytesInFlight < (32L << 20) + 4096) throw new IllegalArgumentException("maxBytesInFlight too small");
        }

        public static Config defaults() {
            return new Config(null, 128, 64L << 20, TimeUnit.SECONDS.toNanos(5), true);
        }

        public Config withDefaultExport(String name) {
            return new Config(name, maxRequestsInFlight, maxBytesInFlight, shutdownGraceNanos, closeExports);
        }

        public Config withCloseExports(boolean close) {
            return new Config(defaultExport, maxRequestsInFlight, maxBytesInFlight, shutdownGraceNanos, close);
        }

        public Config withShutdownGrace(long nanos) {
            return new Config(defaultExport, maxRequestsInFlight, maxBytesInFlight, nanos, closeExports);
        }
    }

    private final Map<String, Export> exports;
    private final Config config;
    private volatile TlsCredentials tls;
    private final List<Listener> listeners = Collections.synchronizedList(new ArrayList<>());
    private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong nextId = new AtomicLong(1);
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile boolean closing;

    /** Drops clients that sit in the handshake (one daemon thread shared by every server). */
    private static final java.util.concurrent.ScheduledThreadPoolExecutor WATCHDOG = watchdog();
    /** How long a client may take over the handshake. */
    static final long HANDSHAKE_TIMEOUT_SECONDS = 30;

    private static java.util.concurrent.ScheduledThreadPoolExecutor watchdog() {
        var e = new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "nbd-handshake-watchdog");
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true);
        return e;
    }

    java.util.concurrent.ScheduledFuture<?> scheduleHandshakeTimeout(NbdConnection c) {
        return WATCHDOG.schedule(c::handshakeTimeout, HANDSHAKE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    public NbdServer(Map<String, ? extends Export> exports) {
        this(exports, Config.defaults());
    }

    /** {@code exports}: name on the wire to export; iteration order is the order LIST reports. */
    public NbdServer(Map<String, ? extends Export> exports, Config config) {
        this.exports = Collections.unmodifiableMap(new LinkedHashMap<>(exports));
        this.config = config;
        if (config.defaultExport() != null && !this.exports.containsKey(config.defaultExport())) {
            throw new IllegalArgumentException("default export '" + config.defaultExport() + "' is not exported");
        }
    }

    public Config config() {
        return config;
    }

    /**
     * Requires TLS (NBD_OPT_STARTTLS) with these credentials on every connection accepted from now on: see
     * {@link ServerHandshake}. Call before {@link #start}.
     */
    public NbdServer requireTls(TlsCredentials credentials) {
        this.tls = java.util.Objects.requireNonNull(credentials);
        return this;
    }

    /** The credentials TLS is required with, or null for plaintext. */
    TlsCredentials tls() {
        return tls;
    }

    /** Starts accepting on {@code listener} (a virtual thread); the server owns and closes it. */
    public NbdServer start(Listener listener) {
        if (closing) throw new IllegalStateException("server is closed");
        listeners.add(listener);
        Thread.ofVirtual().name("nbd-accept " + listener).start(() -> acceptLoop(listener));
        return this;
    }

    public List<Listener> listeners() {
        return List.copyOf(listeners);
    }

    private void acceptLoop(Listener listener) {
        while (!closing) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (closing || !listener.isOpen()) return;
                LOG.log(Level.WARNING, "accept on {0} failed: {1}", listener, e.getMessage());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
                continue;
            }
            NbdConnection c = new NbdConnection(this, ch, nextId.getAndIncrement());
            connections.add(c);
            if (closing) {
                connections.remove(c);
                c.kill();
                return;
            }
            Thread t = Thread.ofVirtual().name("nbd-conn-" + c.id()).unstarted(c);
            c.setReaderThread(t);
            t.start();
        }
    }

    void connectionClosed(NbdConnection c) {
        synchronized (connections) {
            connections.remove(c);
            connections.notifyAll();
        }
    }

    /** The export a client asks for by {@code name} ("" = the default export), or null. */
    Export lookup(String name) {
        if (name.isEmpty() && config.defaultExport() != null) return exports.get(config.defaultExport());
        return exports.get(name);
    }

    /** The name an export is listed under ("" resolves to the default export's name). */
    String canonicalName(String name) {
        return name.isEmpty() && config.defaultExport() != null ? config.defaultExport() : name;
    }

    Map<String, Export> namedExports() {
        return exports;
    }

    public Map<String, Export> exports() {
        return exports;
    }

    /** Connections open now. */
    public int activeConnections() {
        return connections.size();
    }

    /** Connections accepted since start. */
    public long connectionsAccepted() {
        return nextId.get() - 1;
    }

    /** Native buffer bytes held by all NBD connections of this process (for leak checks). */
    public static long nativeBufferBytes() {
        return BufferPool.NATIVE_BYTES.get();
    }

    /**
     * Stops accepting, lets each connection finish the requests it has in flight (replies are sent) up to
     * the configured grace period, closes the rest, then closes the exports and the listeners (removing
     * Unix socket files). Idempotent; a second caller waits for the first.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) {
                awaitQuietly();
                return;
            }
            closing = true;
        }
        try {
            for (Listener l : listeners()) {
                try {
                    l.close();
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "closing {0}: {1}", l, e.getMessage());
                }
            }
            for (NbdConnection c : connections) c.stop();
            long deadline = System.nanoTime() + config.shutdownGraceNanos() + TimeUnit.SECONDS.toNanos(1);
            synchronized (connections) {
                while (!connections.isEmpty()) {
                    long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                    if (left <= 0) break;
                    try {
                        connections.wait(left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
            for (NbdConnection c : connections) c.kill();
            if (config.closeExports()) {
                Set<Export> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
                distinct.addAll(exports.values());
                for (Export e : distinct) {
                    try {
                        e.close();
                    } catch (Exception ex) {
                        LOG.log(Level.WARNING, "closing export {0}: {1}", e.name(), ex.getMessage());
                    }
                }
            }
        } finally {
            closed.countDown();
        }
    }

    /** Blocks until {@link #close} has finished. */
    public void awaitClosed() throws InterruptedException {
        closed.await();
    }

    private void awaitQuietly() {
        try {
            closed.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

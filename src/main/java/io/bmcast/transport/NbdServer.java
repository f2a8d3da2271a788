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
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
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
     * @param limits the bounds across all connections, and the deadlines
     */
    public record Config(String defaultExport, int maxRequestsInFlight, long maxBytesInFlight,
                         long shutdownGraceNanos, boolean closeExports, Limits limits) {
        public Config {
            if (maxRequestsInFlight < 1) throw new IllegalArgumentException("maxRequestsInFlight < 1");
            if (maxBytesInFlight < (32L << 20) + 4096) throw new IllegalArgumentException("maxBytesInFlight too small");
            if (limits == null) throw new IllegalArgumentException("limits == null");
        }

        public static Config defaults() {
            return new Config(null, 128, 64L << 20, TimeUnit.SECONDS.toNanos(5), true, Limits.defaults());
        }

        public Config withDefaultExport(String name) {
            return new Config(name, maxRequestsInFlight, maxBytesInFlight, shutdownGraceNanos, closeExports, limits);
        }

        public Config withCloseExports(boolean close) {
            return new Config(defaultExport, maxRequestsInFlight, maxBytesInFlight, shutdownGraceNanos, close, limits);
        }

        public Config withShutdownGrace(long nanos) {
            return new Config(defaultExport, maxRequestsInFlight, maxBytesInFlight, nanos, closeExports, limits);
        }

        public Config withLimits(Limits l) {
            return new Config(defaultExport, maxRequestsInFlight, maxBytesInFlight, shutdownGraceNanos, closeExports, l);
        }
    }

    /**
     * What the server holds whatever its clients do: deadlines that drop clients which sit on a connection,
     * and bounds across all connections together (each connection also has its own, {@link Config}).
     *
     * <p>A connection past {@code maxConnections} is closed as soon as it is accepted (the client sees the
     * connection close before any greeting) rather than left in the kernel's backlog: a client learns at
     * once that the server is full, and a crowd of idle clients cannot hide in the backlog.
     *
     * @param handshakeTimeoutNanos from accept to the end of the handshake; a client still haggling then is
     *     disconnected, whatever it announced (qemu-nbd's default: 10 s)
     * @param idleTimeoutNanos after the handshake: a connection with no request in flight and no byte
     *     received for this long, or whose reply has not moved for this long, is closed; 0: never
     * @param maxConnections connections open at once
     * @param maxBytesInFlight native buffer bytes across all connections (payloads in flight, buffers kept
     *     for reuse); at least 64 MiB, so that a request of the largest payload always fits
     * @param maxRequestsInFlight requests in flight across all connections
     */
    public record Limits(long handshakeTimeoutNanos, long idleTimeoutNanos, int maxConnections,
                         long maxBytesInFlight, int maxRequestsInFlight) {
        public static final long DEFAULT_HANDSHAKE_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);
        public static final int DEFAULT_MAX_CONNECTIONS = 1024;
        public static final long DEFAULT_MAX_BYTES_IN_FLIGHT = 256L << 20;
        public static final int DEFAULT_MAX_REQUESTS_IN_FLIGHT = 4096;

        public Limits {
            if (handshakeTimeoutNanos <= 0) throw new IllegalArgumentException("the handshake timeout must be positive");
            if (idleTimeoutNanos < 0) throw new IllegalArgumentException("the idle timeout must not be negative");
            if (maxConnections < 1) throw new IllegalArgumentException("the connection limit must be at least 1");
            if (maxBytesInFlight < 64L << 20) throw new IllegalArgumentException("the server-wide bytes in flight must be at least 64M");
            if (maxRequestsInFlight < 1) throw new IllegalArgumentException("the server-wide requests in flight must be at least 1");
        }

        /** 10 s to finish the handshake, no idle timeout, 1024 connections, 256 MiB and 4096 requests in flight. */
        public static Limits defaults() {
            return new Limits(DEFAULT_HANDSHAKE_TIMEOUT_NANOS, 0, DEFAULT_MAX_CONNECTIONS,
                    DEFAULT_MAX_BYTES_IN_FLIGHT, DEFAULT_MAX_REQUESTS_IN_FLIGHT);
        }

        public Limits withHandshakeTimeout(long nanos) {
            return new Limits(nanos, idleTimeoutNanos, maxConnections, maxBytesInFlight, maxRequestsInFlight);
        }

        public Limits withIdleTimeout(long nanos) {
            return new Limits(handshakeTimeoutNanos, nanos, maxConnections, maxBytesInFlight, maxRequestsInFlight);
        }

        public Limits withMaxConnections(int n) {
            return new Limits(handshakeTimeoutNanos, idleTimeoutNanos, n, maxBytesInFlight, maxRequestsInFlight);
        }

        public Limits withInFlight(long bytes, int requests) {
            return new Limits(handshakeTimeoutNanos, idleTimeoutNanos, maxConnections, bytes, requests);
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

    /** Runs every server's deadline sweep (one daemon thread shared by every server). */
    private static final ScheduledThreadPoolExecutor SWEEPER = sweeper();
    /** How often deadlines are checked: a deadline is enforced within this much of its time. */
    static final long SWEEP_PERIOD_MILLIS = 250;
    /** At most one "connection limit reached" warning per this many seconds. */
    private static final long REFUSAL_LOG_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(10);

    private static ScheduledThreadPoolExecutor sweeper() {
        var e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "nbd-deadline-sweep");
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true);
        return e;
    }

    private final InFlightBudget budget;
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong timedOut = new AtomicLong();
    private final AtomicLong internalErrors = new AtomicLong();
    private long lastRefusalLogNs; // accept thread only
    private ScheduledFuture<?> sweep;

    public NbdServer(Map<String, ? extends Export> exports) {
        this(exports, Config.defaults());
    }

    /** {@code exports}: name on the wire to export; iteration order is the order LIST reports. */
    public NbdServer(Map<String, ? extends Export> exports, Config config) {
        this.exports = Collections.unmodifiableMap(new LinkedHashMap<>(exports));
        this.config = config;
        Limits l = config.limits();
        this.budget = new InFlightBudget(l.maxBytesInFlight(), l.maxRequestsInFlight(), l.maxBytesInFlight() / 8);
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
        synchronized (this) {
            if (sweep == null) {
                sweep = SWEEPER.scheduleWithFixedDelay(() -> sweep(System.nanoTime()),
                        SWEEP_PERIOD_MILLIS, SWEEP_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
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
            if (connections.size() >= config.limits().maxConnections()) {
                refuse(ch);
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

    /** Over the connection limit: close at once, and say so now and then (not once per connection). */
    private void refuse(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // gone already
        }
        long n = refused.incrementAndGet();
        long now = System.nanoTime();
        if (n == 1 || now - lastRefusalLogNs > REFUSAL_LOG_PERIOD_NANOS) {
            lastRefusalLogNs = now;
            LOG.log(Level.WARNING, "connection limit of {0} reached: closing new connections ({1} so far)",
                    config.limits().maxConnections(), n);
        }
    }

    /** Drops the connections past their handshake deadline or idle too long. Visible for testing. */
    void sweep(long nowNs) {
        for (NbdConnection c : connections) {
            if (c.checkDeadlines(nowNs, config.limits())) timedOut.incrementAndGet();
        }
    }

    InFlightBudget budget() {
        return budget;
    }

    void internalError() {
        internalErrors.incrementAndGet();
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

    /** Connections closed at once because the connection limit was reached. */
    public long connectionsRefused() {
        return refused.get();
    }

    /** Connections dropped for missing the handshake deadline or for idling past the idle timeout. */
    public long connectionsTimedOut() {
        return timedOut.get();
    }

    /** Connections that ended on an unexpected exception (a bug: a client must never cause one). */
    public long internalErrors() {
        return internalErrors.get();
    }

    /** Native buffer bytes this server's connections hold now (in flight or kept for reuse). */
    public long bytesInFlight() {
        return budget.bytes();
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
            if (sweep != null) sweep.cancel(false);
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

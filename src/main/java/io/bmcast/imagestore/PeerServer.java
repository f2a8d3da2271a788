package io.bmcast.imagestore;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.bmcast.storage.FetchPriority;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.util.Sha256;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;

/**
 * A node's chunks, served to its peers over HTTP(S):
 * <pre>
 *   GET /v1/chunks/{sha256}[?background=1]   Authorization: Bearer PEER-TOKEN
 *     200  the chunk's bytes as stored
 *     404  neither held here nor part of an image a deployment here is fetching
 *     401  no bearer token           403  not the fleet's peer token (compared in constant time)
 *     400  not a chunk name          503  busy, or this node could not get the chunk: ask another source
 * </pre>
 * The node's {@link ChunkCache} answers first; on a miss the {@link ChunkProvider} does (a deployment on this node
 * fetching the image: it joins a fetch in flight or pulls the chunk through its own chain, so the asker blocks until
 * then instead of going to the store). A peer trusts nothing it receives (it verifies every chunk by its name), so the
 * token is not what keeps the data honest: it keeps strangers from reading the image data this node holds. The server
 * still checks each cached chunk before sending it, so a file that rotted on this disk is dropped here instead of
 * costing every peer a rejected chunk; a chunk the provider hands over was verified by it a moment ago and is sent as
 * it is.
 *
 * <p>Priority. A request for a guest's read (urgent) is served at once while fewer than {@link #MAX_CONCURRENT} are
 * being served, else answered 503 at once: its asker has a guest waiting and tries the next source. A request marked
 * {@code ?background=1} (the asker's {@link FetchPriority} is background: a hydrator's copy) is not limited while its
 * chunk is got (a pull-through mostly waits on other nodes), but sends in one of {@link #BACKGROUND_SLOTS} slots and,
 * when they are all taken, WAITS for one, up to {@link #BACKGROUND_WAIT}, before a 503: an immediate 503 would send a
 * tree member to the store, the herd the tree exists to avoid, while a copy that waits a little costs nobody anything.
 * So background copies never take more than a few sends of this node's uplink, and a guest's read is not queued
 * behind them. The provider runs under the request's mark, which so travels up the tree.
 *
 * <p>{@code injectCorrupt} is a fault for tests and the hostile-case demo: that share of the chunks served has one
 * byte flipped after the check (chosen by count, not at random, so a test knows how many). {@code uplink} shapes
 * what this server sends (the fanout bench's emulated node link); null in the fleet.
 */
public final class PeerServer implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.imagestore");
    /** Urgent requests served at once; past it one is answered 503 at once, so the asker tries elsewhere. */
    static final int MAX_CONCURRENT = 32;
    /** Background copies sent at once. */
    static final int BACKGROUND_SLOTS = 4;
    /** How long a background copy waits for a slot to send in before a 503. */
    static final Duration BACKGROUND_WAIT = Duration.ofSeconds(30);
    private static final String PREFIX = "/v1/chunks/";

    private final HttpServer server;
    private final ChunkCache cache;
    private final ChunkProvider provider;
    private final Supplier<String> token;
    private final double injectCorrupt;
    private final LinkEmulator uplink;
    private final Semaphore urgent = new Semaphore(MAX_CONCURRENT);
    private final Semaphore background = new Semaphore(BACKGROUND_SLOTS, true);
    private final AtomicInteger backgroundWaiting = new AtomicInteger();
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong servedByProvider = new AtomicLong();
    private final AtomicLong bytesServed = new AtomicLong();
    private final AtomicLong corrupted = new AtomicLong();
    private final AtomicLong busy = new AtomicLong();
    private final String scheme;

    private PeerServer(HttpServer server, String scheme, ChunkCache cache, ChunkProvider provider, Supplier<String> token,
            double injectCorrupt, LinkEmulator uplink) {
        this.server = server;
        this.scheme = scheme;
        this.cache = cache;
        this.provider = provider;
        this.token = token;
        this.injectCorrupt = injectCorrupt;
        this.uplink = uplink;
    }

    /**
     * Serves {@code cache}, then {@code provider}, on {@code listen} (port 0: any free one), over HTTPS when {@code tls}
     * is given.
     *
     * @param cache    this node's chunk cache, or null for none (the provider alone)
     * @param provider what answers a chunk the cache lacks ({@link ChunkProvider#NONE}: nothing, 404)
     * @param token    the fleet's peer token as it is known now (null until the controller has sent it: then every
     *                 request is refused)
     * @param injectCorrupt the share of served chunks to flip a byte in (a fault for tests), 0 normally
     * @param uplink   shapes what is sent (a bench's emulated link), or null
     */
    public static PeerServer start(InetSocketAddress listen, SSLContext tls, ChunkCache cache, ChunkProvider provider,
            Supplier<String> token, double injectCorrupt, LinkEmulator uplink) throws IOException {
        if (!(injectCorrupt >= 0 && injectCorrupt <= 1)) throw new IllegalArgumentException("the corrupt rate is between 0 and 1");
        // Without TCP_NODELAY a chunk's last segment waits for the asker's delayed ACK (~40 ms a chunk, once per hop of
        // the tree, measured by bench fanout); the JDK's server reads this once, when its first server starts. Only if
        // nobody chose.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer s;
        if (tls != null) {
            HttpsServer https = HttpsServer.create(listen, 64);
            https.setHttpsConfigurator(new HttpsConfigurator(tls));
            s = https;
        } else {
            s = HttpServer.create(listen, 64);
        }
        PeerServer p = new PeerServer(s, tls != null ? "https" : "http", cache, provider == null ? ChunkProvider.NONE : provider,
                token, injectCorrupt, uplink);
        s.createContext(PREFIX, p::handle);
        // Virtual threads: a request may block for a while (a background one waiting for its slot, one pulled through
        // the chain), and each costs only its stack while it does.
        s.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        s.start();
        return p;
    }

    /** The address it listens on (the port chosen when 0 was asked). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** The URL peers use when nothing else is advertised: the listen address (a wildcard one is shown as loopback). */
    public URI url() {
        InetSocketAddress a = address();
        String host = a.getAddress().isAnyLocalAddress() ? "127.0.0.1" : a.getAddress().getHostAddress();
        if (host.contains(":")) host = "[" + host + "]";
        return URI.create(scheme + "://" + host + ":" + a.getPort());
    }

    public long chunksServed() {
        return served.get();
    }

    /** Chunks served that the cache lacked and the provider handed over. */
    public long chunksFromProvider() {
        return servedByProvider.get();
    }

    public long bytesServed() {
        return bytesServed.get();
    }

    /** Chunks sent with a flipped byte ({@code --inject-corrupt}). */
    public long chunksCorrupted() {
        return corrupted.get();
    }

    /** Requests answered 503 because the server was busy. */
    public long busyRefusals() {
        return busy.get();
    }

    /** Background requests waiting for a slot now. */
    public int backgroundWaiting() {
        return backgroundWaiting.get();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            if (!"GET".equals(ex.getRequestMethod())) {
                reply(ex, 405, "only GET is served here");
                return;
            }
            int auth = authorized(ex.getRequestHeaders().getFirst("Authorization"));
            if (auth != 200) {
                reply(ex, auth, auth == 401 ? "a peer presents the fleet's peer token (Authorization: Bearer ...)" : "not the fleet's peer token");
                return;
            }
            String sha = ex.getRequestURI().getPath().substring(PREFIX.length());
            if (!Sha256.isHex(sha)) {
                reply(ex, 400, "a chunk is named by 64 lowercase hex digits");
                return;
            }
            boolean bg = isBackground(ex.getRequestURI().getRawQuery());
            if (bg) {
                serve(ex, sha, true);
                return;
            }
            if (!urgent.tryAcquire()) {
                busy.incrementAndGet();
                reply(ex, 503, "busy: ask another source");
                return;
            }
            try {
                serve(ex, sha, false);
            } finally {
                urgent.release();
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "peer server: " + e);
        }
    }

    /** {@code ?background=1} among the query's parameters. */
    static boolean isBackground(String query) {
        if (query == null) return false;
        for (String p : query.split("&")) {
            if (p.equals("background=1")) return true;
        }
        return false;
    }

    /** Waits up to {@link #BACKGROUND_WAIT} for a background slot; false: answer 503. */
    private boolean backgroundSlot() {
        backgroundWaiting.incrementAndGet();
        try {
            return background.tryAcquire(BACKGROUND_WAIT.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            backgroundWaiting.decrementAndGet();
        }
    }

    /** Answers the request: the chunk from the cache or the provider, then sent (a background one in its slot). */
    private void serve(HttpExchange ex, String sha, boolean bg) throws IOException {
        ByteBuffer chunk = cache == null ? null : cache.get(sha);
        if (chunk != null && !Sha256.hex(chunk).equals(sha)) {
            // rotted on this disk: never sent, and gone so that the next fetch here refills it
            LOG.log(Level.WARNING, "peer server: cached chunk " + sha + " does not match its name; dropped");
            cache.drop(sha);
            chunk = null;
        }
        boolean provided = false;
        if (chunk == null) {
            try {
                chunk = FetchPriority.run(bg, () -> provider.provide(sha, bg));
            } catch (Exception e) {
                LOG.log(Level.INFO, "peer server: could not get chunk " + sha + " for a peer: " + e.getMessage());
                reply(ex, 503, "this node could not get the chunk: ask another source");
                return;
            }
            provided = chunk != null;
        }
        if (chunk == null) {
            reply(ex, 404, "not held here");
            return;
        }
        if (!bg) {
            send(ex, chunk, provided);
            return;
        }
        if (!backgroundSlot()) {
            busy.incrementAndGet();
            reply(ex, 503, "busy: ask another source");
            return;
        }
        try {
            send(ex, chunk, provided);
        } finally {
            background.release();
        }
    }

    private void send(HttpExchange ex, ByteBuffer chunk, boolean provided) throws IOException {
        int length = chunk.remaining();
        byte[] body;
        int from;
        long n = served.incrementAndGet();
        if (provided) servedByProvider.incrementAndGet();
        if (length > 0 && flips(n)) {
            body = new byte[length];
            chunk.duplicate().get(body);
            from = 0;
            body[length / 2] ^= 0x20;
            corrupted.incrementAndGet();
        } else if (chunk.hasArray()) {
            body = chunk.array(); // sent as held: no copy
            from = chunk.arrayOffset() + chunk.position();
        } else {
            body = new byte[length];
            chunk.duplicate().get(body);
            from = 0;
        }
        if (uplink != null) uplink.hold(length);
        ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
        ex.sendResponseHeaders(200, length == 0 ? -1 : length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body, from, length);
        }
        bytesServed.addAndGet(length);
    }

    /** Whether the {@code n}th chunk served (from 1) is one of the injected share: exactly floor(n * rate) of the first n. */
    private boolean flips(long n) {
        return injectCorrupt > 0 && (long) Math.floor(n * injectCorrupt) > (long) Math.floor((n - 1) * injectCorrupt);
    }

    /** 200 when {@code header} carries the fleet's peer token, 401 when it carries none, 403 otherwise. */
    private int authorized(String header) {
        if (header == null || !header.startsWith("Bearer ") || header.length() == "Bearer ".length()) return 401;
        String expected = token.get();
        if (expected == null) return 403; // the controller has not said it yet: nobody's is right
        byte[] given = header.substring("Bearer ".length()).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, expected.getBytes(StandardCharsets.UTF_8)) ? 200 : 403;
    }

    private static void reply(HttpExchange ex, int status, String sentence) throws IOException {
        byte[] body = ("{\"error\":\"" + sentence + "\"}").getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}

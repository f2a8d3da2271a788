package io.bmcast.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.bmcast.imagestore.ChunkCache;
import io.bmcast.imagestore.ChunkProvider;
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
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;

/**
 * The node's chunk cache, served to peers over HTTP(S):
 * <pre>
 *   GET /v1/chunks/{sha256}   Authorization: Bearer PEER-TOKEN
 *     200  the chunk's bytes as stored (checked against its name just before they leave)
 *     404  not held here (never held, or evicted)
 *     401  no bearer token           403  not the fleet's peer token (compared in constant time)
 *     400  not a chunk name          503  too many requests being served: ask another source
 * </pre>
 * A peer trusts nothing it receives (it verifies every chunk by its name), so the token is not what keeps the data
 * honest: it keeps strangers from reading the image data this node holds. The server also checks each chunk before
 * sending it, so a file that rotted on this disk is dropped here instead of costing every peer a rejected chunk.
 *
 * <p>{@code injectCorrupt} is a fault for tests and the hostile-case demo: that share of the chunks served has one
 * byte flipped after the check (chosen by count, not at random, so a test knows how many).
 */
public final class PeerServer implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.agent");
    /** Chunks sent at once; past it a request is answered 503 at once, so the asking mediator tries elsewhere. */
    static final int MAX_CONCURRENT = 32;

    private final HttpServer server;
    private final ChunkCache cache;
    private final ChunkProvider provider;
    private final Supplier<String> token;
    private final double injectCorrupt;
    private final Semaphore sending = new Semaphore(MAX_CONCURRENT);
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong bytesServed = new AtomicLong();
    private final AtomicLong corrupted = new AtomicLong();
    private final String scheme;

    private PeerServer(HttpServer server, String scheme, ChunkCache cache, ChunkProvider provider, Supplier<String> token,
            double injectCorrupt) {
        this.server = server;
        this.provider = provider;
        this.scheme = scheme;
        this.cache = cache;
        this.token = token;
        this.injectCorrupt = injectCorrupt;
    }

    /**
     * Serves {@code cache} on {@code listen} (port 0: any free one), over HTTPS when {@code tls} is given.
     *
     * @param token the fleet's peer token as it is known now (null until the controller has sent it: then every
     *              request is refused)
     */
    public static PeerServer start(InetSocketAddress listen, SSLContext tls, ChunkCache cache, Supplier<String> token, double injectCorrupt)
            throws IOException {
        return start(listen, tls, cache, ChunkProvider.NONE, token, injectCorrupt);
    }

    /**
     * As {@link #start(InetSocketAddress, SSLContext, ChunkCache, Supplier, double)}, falling back to {@code provider}
     * (this node's deployments) for a chunk the cache lacks ({@code ?background=1}: asked for a background copy).
     */
    public static PeerServer start(InetSocketAddress listen, SSLContext tls, ChunkCache cache, ChunkProvider provider,
            Supplier<String> token, double injectCorrupt) throws IOException {
        if (!(injectCorrupt >= 0 && injectCorrupt <= 1)) throw new IllegalArgumentException("the corrupt rate is between 0 and 1");
        // Without TCP_NODELAY a chunk's last segment waits for the asker's delayed ACK (~40 ms a chunk, measured by
        // bench fanout); the JDK's server reads this once, when its first server starts. Only if nobody chose.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer s;
        if (tls != null) {
            HttpsServer https = HttpsServer.create(listen, 64);
            https.setHttpsConfigurator(new HttpsConfigurator(tls));
            s = https;
        } else {
            s = HttpServer.create(listen, 64);
        }
        PeerServer p = new PeerServer(s, tls != null ? "https" : "http", cache, provider, token, injectCorrupt);
        s.createContext("/v1/chunks/", p::handle);
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

    public long bytesServed() {
        return bytesServed.get();
    }

    /** Chunks sent with a flipped byte ({@code --inject-corrupt}). */
    public long chunksCorrupted() {
        return corrupted.get();
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
            String sha = ex.getRequestURI().getPath().substring("/v1/chunks/".length());
            if (!Sha256.isHex(sha)) {
                reply(ex, 400, "a chunk is named by 64 lowercase hex digits");
                return;
            }
            if (!sending.tryAcquire()) {
                reply(ex, 503, "busy: ask another source");
                return;
            }
            try {
                send(ex, sha);
            } finally {
                sending.release();
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "peer server: " + e);
        }
    }

    private void send(HttpExchange ex, String sha) throws IOException {
        ByteBuffer chunk = cache.get(sha);
        if (chunk != null && !Sha256.hex(chunk).equals(sha)) {
            // rotted on this disk: never sent, and gone so that the next fetch here refills it
            LOG.log(Level.WARNING, "peer server: cached chunk " + sha + " does not match its name; dropped");
            cache.drop(sha);
            chunk = null;
        }
        if (chunk == null) {
            boolean background = "background=1".equals(ex.getRequestURI().getQuery());
            try {
                chunk = provider.provide(sha, background);
            } catch (IOException e) {
                reply(ex, 502, "the deployment here could not get it");
                return;
            }
            if (chunk != null && !Sha256.hex(chunk).equals(sha)) chunk = null; // never pass on what does not verify
        }
        if (chunk == null) {
            reply(ex, 404, "not held here");
            return;
        }
        byte[] body = new byte[chunk.remaining()];
        chunk.get(body);
        long n = served.incrementAndGet();
        if (body.length > 0 && flips(n)) {
            body[body.length / 2] ^= 0x20;
            corrupted.incrementAndGet();
        }
        ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
        ex.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
        bytesServed.addAndGet(body.length);
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

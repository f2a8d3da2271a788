package io.bmcast.imagestore;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.bmcast.storage.LinkEmulator;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;

/**
 * A peer server for a process that holds a {@link TreeFetcher}: {@code GET /v1/chunks/{sha256}} with
 * {@code Authorization: Bearer TOKEN} answers the chunk's stored bytes, held, joined in flight or pulled through
 * (the agent's cache-only server answers 404 for a chunk it does not hold; this mode is what lets a deployment's
 * members start together). 401 without the token, 404 for a chunk not in the image, 503 when the fetch failed.
 * Optionally shapes its uplink ({@link LinkEmulator}) and flips a byte in a share of its answers (a lying peer, for
 * the hostile-case bench). Binds the loopback address only.
 */
public final class TreePeerServer implements AutoCloseable {
    private static final Pattern PATH = Pattern.compile("/v1/chunks/([0-9a-f]{64})");

    private final HttpServer server;
    private final ExecutorService threads;
    private final TreeFetcher fetcher;
    private final byte[] token;
    private final LinkEmulator uplink;
    private final double corruptRate;
    private final SplittableRandom random;

    private TreePeerServer(HttpServer server, ExecutorService threads, TreeFetcher fetcher, String token, LinkEmulator uplink,
            double corruptRate, long seed) {
        this.server = server;
        this.threads = threads;
        this.fetcher = fetcher;
        this.token = token.getBytes(StandardCharsets.UTF_8);
        this.uplink = uplink;
        this.corruptRate = corruptRate;
        this.random = new SplittableRandom(seed);
    }

    /** Starts serving on a free loopback port; {@code uplink} null for none, {@code corruptRate} 0 for an honest peer. */
    public static TreePeerServer start(TreeFetcher fetcher, String token, LinkEmulator uplink, double corruptRate, long seed)
            throws IOException {
        // Without TCP_NODELAY the last segment of each chunk waits for the client's delayed ACK (40 ms on Linux): one
        // such wait per hop of the tree, on every chunk.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        // Platform threads: answers verify, copy and send bytes, and virtual threads share as many carriers as there
        // are cores, which a host full of busy platform threads (a simulated fleet's mediators) starves.
        ExecutorService threads = Executors.newCachedThreadPool(Thread.ofPlatform().name("peer-server-", 0).daemon().factory());
        s.setExecutor(threads);
        TreePeerServer p = new TreePeerServer(s, threads, fetcher, token, uplink, corruptRate, seed);
        s.createContext("/v1/chunks/", p::handle);
        s.start();
        return p;
    }

    public URI base() {
        InetSocketAddress a = server.getAddress();
        return URI.create("http://" + a.getAddress().getHostAddress() + ":" + a.getPort());
    }

    private void handle(HttpExchange x) throws IOException {
        try (x) {
            var m = PATH.matcher(x.getRequestURI().getPath());
            if (!"GET".equals(x.getRequestMethod()) || !m.matches()) {
                reply(x, 404, "{\"error\": \"no such route\"}");
                return;
            }
            String auth = x.getRequestHeaders().getFirst("Authorization");
            byte[] given = auth != null && auth.startsWith("Bearer ") ? auth.substring(7).getBytes(StandardCharsets.UTF_8) : new byte[0];
            if (!MessageDigest.isEqual(given, token)) {
                reply(x, 401, "{\"error\": \"a peer token is required\"}");
                return;
            }
            ByteBuffer b;
            try {
                b = fetcher.serve(m.group(1));
            } catch (IOException e) {
                reply(x, 503, "{\"error\": \"this peer could not fetch the chunk\"}");
                return;
            }
            if (b == null) {
                reply(x, 404, "{\"error\": \"no such chunk in this deployment's image\"}");
                return;
            }
            byte[] body;
            int from = 0, length = b.remaining();
            boolean lie = corruptRate > 0 && chance();
            if (b.hasArray() && !lie) {
                body = b.array(); // sent as held: no copy
                from = b.arrayOffset() + b.position();
            } else {
                body = new byte[length];
                b.duplicate().get(body);
                if (body.length > 0 && lie) body[body.length / 2] ^= 0x01;
            }
            if (uplink != null) {
                long wait = uplink.delayNanos(length, System.nanoTime());
                if (wait > 0) LockSupport.parkNanos(wait);
            }
            x.getResponseHeaders().set("Content-Type", "application/octet-stream");
            x.sendResponseHeaders(200, length);
            try (OutputStream out = x.getResponseBody()) {
                out.write(body, from, length);
            }
        }
    }

    private synchronized boolean chance() {
        return random.nextDouble() < corruptRate;
    }

    private static void reply(HttpExchange x, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", "application/json");
        x.sendResponseHeaders(status, body.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.close();
    }

    /**
     * A {@link TreeFetcher.PeerClient} over HTTP to the members at {@code bases}: 404 is "not served", anything else
     * but 200 (or no answer within {@code timeout}) is a failure. Blocking connections (kept alive and pooled by the
     * JDK), each request on its caller's thread: java.net.http's one selector thread per client carried every
     * transfer of a whole simulated fleet and became its bottleneck.
     */
    public static TreeFetcher.PeerClient client(Map<String, URI> bases, String token, Duration timeout) {
        return (member, sha) -> {
            URI base = bases.get(member);
            if (base == null) return null;
            HttpURLConnection c = (HttpURLConnection) base.resolve("/v1/chunks/" + sha).toURL().openConnection();
            c.setConnectTimeout((int) Math.min(timeout.toMillis(), 10_000));
            c.setReadTimeout((int) timeout.toMillis());
            c.setRequestProperty("Authorization", "Bearer " + token);
            int status = c.getResponseCode();
            if (status == 200) {
                try (InputStream in = c.getInputStream()) {
                    return ByteBuffer.wrap(in.readAllBytes());
                }
            }
            try (InputStream err = c.getErrorStream()) {
                if (err != null) err.readAllBytes(); // drained, so the connection is kept for the next request
            }
            if (status == 404) return null;
            throw new IOException(member + " answered " + status + " for chunk " + sha);
        };
    }
}

package io.bmcast.imagestore;

import io.bmcast.storage.FetchPriority;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;

/**
 * A peer's {@link PeerServer} over HTTP(S): {@code GET {base}/v1/chunks/{sha256}} with {@code Authorization: Bearer
 * TOKEN}, and {@code ?background=1} when this thread's fetches are {@link FetchPriority#isBackground() background}.
 * 200 carries the chunk's stored bytes, 404 says the peer has no such chunk (null), anything else, or no answer in
 * time, is an {@link IOException} (the fetcher then asks the next source). The bytes are not trusted: the fetcher
 * verifies them like any source's. Reads at most one byte more than the chunk's stored size, so a hostile peer cannot
 * make the mediator swallow an endless body.
 *
 * <p>Blocking requests on the caller's thread over the JDK's kept-alive connections ({@link HttpURLConnection}), not
 * java.net.http: that client moves every byte of all its requests through one selector thread, and the fanout bench
 * (100 simulated nodes in one JVM) measured that thread as its bottleneck; a mediator asks at most a few chunks at
 * once, each on its own thread already.
 */
public final class HttpChunkSource implements ChunkSource {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /**
     * The longest wait for an answer (between any two reads). A peer may hold the request while it pulls the chunk
     * through its own ancestors (up to 7 hops in a tree of 100, each a chunk transfer, the top one a store fetch) or,
     * for a background copy, while it waits for a background slot (30 s at most, {@link PeerServer#BACKGROUND_WAIT}):
     * a healthy chain answers well within a minute. Past that the peer is stuck, and the asker goes to the next
     * ancestor or the store; still well under the store's give-up (5 minutes), which a parent's own store fetch may
     * spend retrying an outage.
     */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);

    private final String name;
    private final URI base;
    private final String token;
    private final SSLSocketFactory tls;

    /** Over plain HTTP, or HTTPS trusting the JDK's CAs. */
    public HttpChunkSource(String name, URI base, String token) {
        this(name, base, token, null);
    }

    /** Over HTTPS trusting {@code tls}'s CAs (the fleet's CA); null: the JDK's. */
    public HttpChunkSource(String name, URI base, String token, SSLContext tls) {
        this.name = name;
        String b = base.toString();
        this.base = URI.create(b.endsWith("/") ? b.substring(0, b.length() - 1) : b);
        this.token = token;
        this.tls = tls == null ? null : tls.getSocketFactory();
    }

    @Override
    public String name() {
        return name;
    }

    public URI base() {
        return base;
    }

    @Override
    public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
        String url = base + "/v1/chunks/" + chunk.sha256() + (FetchPriority.isBackground() ? "?background=1" : "");
        HttpURLConnection c;
        int status;
        try {
            c = (HttpURLConnection) URI.create(url).toURL().openConnection();
            if (tls != null && c instanceof HttpsURLConnection https) https.setSSLSocketFactory(tls);
            c.setConnectTimeout((int) CONNECT_TIMEOUT.toMillis());
            c.setReadTimeout((int) REQUEST_TIMEOUT.toMillis());
            c.setUseCaches(false);
            if (token != null && !token.isEmpty()) c.setRequestProperty("Authorization", "Bearer " + token);
            status = c.getResponseCode();
        } catch (SocketTimeoutException e) {
            throw new IOException("peer " + name + " did not answer for chunk " + chunk.sha256() + " in time", e);
        } catch (IOException e) {
            throw new IOException("peer " + name + " failed for chunk " + chunk.sha256() + ": " + e, e);
        }
        if (status != 200) {
            try (InputStream err = c.getErrorStream()) {
                if (err != null) err.readNBytes(4096); // drained, so the connection serves the next request
            } catch (IOException ignored) {
                // the answer is the status
            }
            if (status == 404) return null;
            throw new IOException("peer " + name + " answered HTTP " + status + " for chunk " + chunk.sha256());
        }
        try (InputStream in = c.getInputStream()) {
            byte[] buf = new byte[chunk.storedSize() + 1];
            int n = in.readNBytes(buf, 0, buf.length);
            if (n == buf.length) c.disconnect(); // a longer body than the chunk: not worth draining
            return ByteBuffer.wrap(buf, 0, n).slice(); // one byte too many, or too few, fails verification
        } catch (SocketTimeoutException e) {
            throw new IOException("peer " + name + " stalled sending chunk " + chunk.sha256(), e);
        } catch (IOException e) {
            throw new IOException("peer " + name + " failed sending chunk " + chunk.sha256() + ": " + e, e);
        }
    }
}

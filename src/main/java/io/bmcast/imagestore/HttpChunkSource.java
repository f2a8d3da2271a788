package io.bmcast.imagestore;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;

/**
 * A peer's chunk cache over HTTP: {@code GET {base}/v1/chunks/{sha256}} with {@code Authorization: Bearer TOKEN}.
 * 200 carries the chunk's stored bytes, 404 says the peer does not hold it (null), anything else, or no answer in
 * time, is an {@link IOException} (the fetcher then asks the next source). The bytes are not trusted: the fetcher
 * verifies them like any source's. Reads at most one byte more than the chunk's stored size, so a hostile peer
 * cannot make the mediator swallow an endless body.
 */
public final class HttpChunkSource implements ChunkSource {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

    private final String name;
    private final URI base;
    private final String token;
    private final HttpClient http;

    public HttpChunkSource(String name, URI base, String token) {
        this(name, base, token, HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).build());
    }

    /** With a client of the caller's (a TLS context trusting the fleet's CA, for example). */
    public HttpChunkSource(String name, URI base, String token, HttpClient http) {
        this.name = name;
        String b = base.toString();
        this.base = URI.create(b.endsWith("/") ? b.substring(0, b.length() - 1) : b);
        this.token = token;
        this.http = http;
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
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(base + "/v1/chunks/" + chunk.sha256()))
                .timeout(REQUEST_TIMEOUT).GET();
        if (token != null && !token.isEmpty()) req.header("Authorization", "Bearer " + token);
        HttpResponse<InputStream> r;
        try {
            r = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpTimeoutException e) {
            throw new IOException("peer " + name + " did not answer for chunk " + chunk.sha256() + " in time", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking peer " + name + " for chunk " + chunk.sha256(), e);
        } catch (IOException e) {
            throw new IOException("peer " + name + " failed for chunk " + chunk.sha256() + ": " + e, e);
        }
        try (InputStream in = r.body()) {
            if (r.statusCode() == 404) return null;
            if (r.statusCode() != 200) throw new IOException("peer " + name + " answered HTTP " + r.statusCode() + " for chunk " + chunk.sha256());
            byte[] buf = new byte[chunk.storedSize() + 1];
            int n = 0;
            while (n < buf.length) {
                int k = in.read(buf, n, buf.length - n);
                if (k < 0) break;
                n += k;
            }
            return ByteBuffer.wrap(buf, 0, n).slice(); // one byte too many, or too few, fails verification
        }
    }
}

package io.bmcast.imagestore;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Where an image lives in an S3-compatible store: {@code s3://BUCKET/PREFIX/NAME}, optionally with the server
 * to ask ({@code ?endpoint=URL}, for anything that is not AWS itself) and its region ({@code &region=R}), so that
 * one string carries an image from the CLI through the controller and the agent to the mediator. Credentials
 * never travel in it: each machine takes its own the way AWS tools do (environment, profile files).
 *
 * @param prefix the key prefix without leading or trailing slash; empty for the bucket's root
 * @param endpoint the S3 server, null for AWS's own (or {@code AWS_ENDPOINT_URL} where the client honours it)
 * @param region null for the client's default chain
 */
public record StoreLocation(String bucket, String prefix, String name, URI endpoint, String region) {
    public static final String SCHEME = "s3";
    // S3's bucket naming rules (lowercase, digits, dots, hyphens, 3-63) and a conservative image name.
    private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}");
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._@+=-]{1,200}");

    public StoreLocation {
        Objects.requireNonNull(bucket, "bucket");
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(name, "name");
        if (!BUCKET.matcher(bucket).matches()) throw new IllegalArgumentException("'" + bucket + "' is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')");
        if (!NAME.matcher(name).matches()) throw new IllegalArgumentException("'" + name + "' is not an image name (letters, digits, '.', '_', '-', '@', '+')");
        if (!prefix.isEmpty()) {
            for (String seg : prefix.split("/", -1)) {
                if (!SEGMENT.matcher(seg).matches() || seg.equals(".") || seg.equals("..")) {
                    throw new IllegalArgumentException("'" + prefix + "' is not a key prefix (segments of letters, digits, '.', '_', '-')");
                }
            }
        }
        if (endpoint != null && !("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme()))) {
            throw new IllegalArgumentException("the store endpoint must be an http:// or https:// URL, not '" + endpoint + "'");
        }
        if (region != null && region.isBlank()) region = null;
    }

    /** True when {@code uri} names an image in a store rather than an NBD export. */
    public static boolean isStoreUri(String uri) {
        return uri != null && uri.startsWith(SCHEME + "://");
    }

    /**
     * Reads {@code s3://BUCKET/PREFIX/NAME[?endpoint=URL&region=R]}.
     *
     * @throws IllegalArgumentException with one sentence a person can act on
     */
    public static StoreLocation parse(String uri) {
        if (!isStoreUri(uri)) throw new IllegalArgumentException("'" + uri + "' is not a store URI (s3://BUCKET/PREFIX/NAME)");
        String rest = uri.substring((SCHEME + "://").length());
        String query = null;
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        int slash = rest.indexOf('/');
        if (slash <= 0 || slash == rest.length() - 1) {
            throw new IllegalArgumentException("'" + uri + "' names no image: write s3://BUCKET/PREFIX/NAME");
        }
        String bucket = rest.substring(0, slash);
        String path = rest.substring(slash + 1);
        while (path.endsWith("/")) path = path.substring(0, path.length() - 1);
        int last = path.lastIndexOf('/');
        String prefix = last < 0 ? "" : path.substring(0, last);
        String name = path.substring(last + 1);
        URI endpoint = null;
        String region = null;
        if (query != null && !query.isEmpty()) {
            for (String kv : query.split("&")) {
                int eq = kv.indexOf('=');
                String k = eq < 0 ? kv : kv.substring(0, eq);
                String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
                switch (k) {
                    case "endpoint" -> endpoint = endpoint(v);
                    case "region" -> region = v;
                    default -> throw new IllegalArgumentException("unknown parameter '" + k + "' in " + uri + " (endpoint, region)");
                }
            }
        }
        return new StoreLocation(bucket, prefix, name, endpoint, region);
    }

    /** Reads an endpoint URL as {@code --endpoint} takes it. */
    public static URI endpoint(String url) {
        try {
            URI u = new URI(url);
            if (u.getHost() == null) throw new IllegalArgumentException("'" + url + "' is not a URL (http://HOST:PORT)");
            return u;
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("'" + url + "' is not a URL (http://HOST:PORT)");
        }
    }

    /** The same image with the server and region given on a command line (null keeps what the URI says). */
    public StoreLocation with(URI endpoint, String region) {
        return new StoreLocation(bucket, prefix, name, endpoint != null ? endpoint : this.endpoint, region != null ? region : this.region);
    }

    /** Another image in the same store (same bucket, prefix, server): where a new version of this one goes. */
    public StoreLocation sibling(String otherName) {
        return new StoreLocation(bucket, prefix, otherName, endpoint, region);
    }

    private String key(String rel) {
        return prefix.isEmpty() ? rel : prefix + "/" + rel;
    }

    /** The key of this image's manifest. */
    public String manifestKey() {
        return key("images/" + name + "/manifest.json");
    }

    /** The key of a chunk named {@code sha256} (shared by every image under the prefix). */
    public String chunkKey(String sha256) {
        return key("chunks/" + sha256.substring(0, 2) + "/" + sha256);
    }

    /** The key of a boot file named {@code sha256}. */
    public String fileKey(String sha256) {
        return key("files/" + sha256);
    }

    /** The key of another object kept with this image (a boot profile, a suspended guest's memory). */
    public String imageObjectKey(String rel) {
        return key("images/" + name + "/" + rel);
    }

    /** {@code s3://BUCKET/PREFIX/NAME} without server or region: how the image is named to people. */
    public String display() {
        return SCHEME + "://" + bucket + "/" + key(name);
    }

    /** The canonical form, which {@link #parse} reads back to an equal value. */
    @Override
    public String toString() {
        Map<String, String> params = new LinkedHashMap<>();
        if (endpoint != null) params.put("endpoint", endpoint.toString());
        if (region != null) params.put("region", region);
        StringBuilder sb = new StringBuilder(display());
        char sep = '?';
        for (var e : params.entrySet()) {
            sb.append(sep).append(e.getKey()).append('=').append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
            sep = '&';
        }
        return sb.toString();
    }
}

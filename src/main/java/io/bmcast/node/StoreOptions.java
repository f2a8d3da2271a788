package io.bmcast.node;

import io.bmcast.imagestore.ImageUri;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UsageException;
import java.net.URI;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * How an {@code s3://} image is fetched, shared by {@code node} and {@code instance run} (a picocli mixin): the
 * store's server, this node's chunk cache, the peers, the store's concurrency cap, and a fault filter for tests.
 */
public final class StoreOptions {
    @Option(names = "--endpoint", paramLabel = "URL",
            description = "For an s3:// image: the S3-compatible server (MinIO, Ceph RGW, Garage...), e.g. http://10.0.0.5:9000; "
                    + "path-style addressing then. Default: AWS S3 (or the URI's ?endpoint=).")
    String endpoint;

    @Option(names = "--region", paramLabel = "REGION", description = "For an s3:// image: the store's region (default: AWS_REGION, the profile, us-east-1).")
    String region;

    @Option(names = "--chunk-cache", paramLabel = "DIR",
            description = "For an s3:// image: this node's cache of verified chunks (on the node's own disk, shared with its agent's peer server).")
    Path chunkCache;

    @Option(names = "--cache-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "20G",
            description = "The chunk cache's cap; least recently used chunks go first (default ${DEFAULT-VALUE}).")
    long cacheSize;

    @Option(names = "--peers", paramLabel = "FILE",
            description = "For an s3:// image: peers to ask for chunks before the store (token=..., peers=URL1,URL2,... nearest first); a missing file is none.")
    Path peers;

    @Option(names = "--chunk-socket", paramLabel = "PATH",
            description = "For an s3:// image fetched along a tree (a peers file with self=): serve this deployment's chunks to "
                    + "the node's peer server on this Unix socket (mode 0600), so members below this node get them as soon as it has them.")
    Path chunkSocket;

    @Option(names = "--store-concurrency", paramLabel = "N", defaultValue = "8",
            description = "The most requests this mediator has at the store at once (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--inject-corrupt", paramLabel = "RATE", defaultValue = "0",
            description = "Fault injection for tests: flip one byte in this share (0..1) of the chunks from the store; they must be rejected.")
    double injectCorrupt;

    @Option(names = "--manifest-sha256", paramLabel = "HEX",
            description = "For an s3:// image: refuse it unless its manifest's SHA-256 is this one (what image push printed and "
                    + "the controller recorded at image add); checked before a byte is served, and again on a restart.")
    String manifestSha256;

    /** {@code image} with {@code --endpoint} and {@code --region} applied; a {@link UsageException} for misuse. */
    public ImageUri apply(ImageUri image) {
        if (manifestSha256 != null && !image.isStore()) throw new UsageException("--manifest-sha256 is for an s3:// image, not " + image);
        try {
            return image.withStore(endpoint == null ? null : StoreLocation.endpoint(endpoint), region);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** The settings; a {@link UsageException} for values that cannot work. */
    public MediatorConfig.Store store() {
        try {
            return new MediatorConfig.Store(chunkCache == null ? null : chunkCache.toAbsolutePath(), cacheSize,
                    peers == null ? null : peers.toAbsolutePath(), concurrency, injectCorrupt, manifestSha256,
                    chunkSocket == null ? null : chunkSocket.toAbsolutePath());
        } catch (IllegalArgumentException e) {
            if (e.getMessage().contains("manifest's SHA-256")) throw new UsageException("--manifest-sha256: " + e.getMessage());
            throw new UsageException(e.getMessage().replace("the cache size", "--cache-size")
                    .replace("the store concurrency", "--store-concurrency").replace("the corruption rate", "--inject-corrupt"));
        }
    }
}

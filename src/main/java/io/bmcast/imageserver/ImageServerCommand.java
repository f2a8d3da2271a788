package io.bmcast.imageserver;

import io.bmcast.imagestore.ChunkCache;
import io.bmcast.imagestore.ChunkFetcher;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.ManifestDigest;
import io.bmcast.imagestore.StoreChunkSource;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreExport;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.transport.Export;
import io.bmcast.transport.NbdServer;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UsageException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bmcast image-server}: every image file of a directory, and images in an object store, read-only over NBD.
 * A store image is served from chunks verified as they arrive, so QEMU, nbdinfo and nbdcopy read it as they read a
 * file (its holes included).
 */
@Command(name = "image-server", sortOptions = false,
        description = "Export every file of DIR (named after the file without its extension) and each --store image "
                + "(named NAME) read-only over NBD. Give exactly one of --socket and --listen.")
public final class ImageServerCommand implements Callable<Integer> {
    /**
     * Mediators reconnect on their own, so dropping a client idle this long costs it nothing, and frees the
     * slot of a client that went away without closing.
     */
    static final Duration IDLE_TIMEOUT = Duration.ofMinutes(10);
    /** How long a read waits out a failing store before the client gets EIO (its own retries take over then). */
    static final Duration STORE_GIVE_UP = Duration.ofSeconds(60);

    @Option(names = "--dir", paramLabel = "DIR", description = "The directory of image files.")
    Path dir;

    @Option(names = "--store", paramLabel = "URI", description = "An image in an object store, s3://BUCKET/PREFIX/NAME (repeatable).")
    List<String> stores = new ArrayList<>();

    @Option(names = "--manifest-sha256", paramLabel = "HEX",
            description = "For --store: refuse the image unless its manifest's SHA-256 is this one (repeatable: the first pins the first --store, and so on).")
    List<String> manifestSha256 = new ArrayList<>();

    @Option(names = "--endpoint", paramLabel = "URL", description = "For --store: the S3-compatible server, e.g. http://10.0.0.5:9000 (default: AWS S3, or the URI's ?endpoint=).")
    String endpoint;

    @Option(names = "--region", paramLabel = "REGION", description = "For --store: the store's region (default: AWS_REGION, the profile, us-east-1).")
    String region;

    @Option(names = "--chunk-cache", paramLabel = "DIR", description = "For --store: keep verified chunks here, so a chunk is fetched from the store once.")
    Path chunkCache;

    @Option(names = "--cache-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "20G",
            description = "The chunk cache's cap (default ${DEFAULT-VALUE}).")
    long cacheSize;

    @Option(names = "--store-concurrency", paramLabel = "N", defaultValue = "8",
            description = "The most requests at the store at once (default ${DEFAULT-VALUE}).")
    int storeConcurrency;

    @Mixin
    ServeOptions serve;

    @Override
    public Integer call() throws Exception {
        serve.check();
        NbdServer.Limits limits = serve.limits(IDLE_TIMEOUT);
        serve.faults();
        LinkEmulator link = serve.link();
        if (dir == null && stores.isEmpty()) throw new UsageException("image-server needs --dir DIR or --store s3://BUCKET/PREFIX/NAME");
        if (storeConcurrency < 1) throw new UsageException("--store-concurrency must be at least 1");
        if (!manifestSha256.isEmpty() && manifestSha256.size() != stores.size()) {
            throw new UsageException("give one --manifest-sha256 for each --store, in the same order (" + manifestSha256.size() + " for "
                    + stores.size() + ")");
        }
        Map<String, Export> exports = new LinkedHashMap<>();
        try {
            if (dir != null) exports.putAll(ImageServer.exportsOf(dir, link));
            ChunkCache cache = chunkCache == null || stores.isEmpty() ? null : ChunkCache.open(chunkCache, cacheSize);
            for (int i = 0; i < stores.size(); i++) {
                String uri = stores.get(i);
                String pin = manifestSha256.isEmpty() ? null : ManifestDigest.parse(manifestSha256.get(i));
                StoreLocation at = StoreLocation.parse(uri).with(endpoint == null ? null : StoreLocation.endpoint(endpoint), region);
                if (exports.containsKey(at.name())) throw new UsageException("two images are named '" + at.name() + "'");
                exports.put(at.name(), ImageServer.wrap(openStore(at, pin, cache), link));
            }
        } catch (IllegalArgumentException e) {
            for (Export x : exports.values()) x.close();
            throw new UsageException(e.getMessage());
        } catch (Exception e) {
            for (Export x : exports.values()) x.close();
            throw e;
        }
        return serve.serve(exports, NbdServer.Config.defaults().withLimits(limits), link);
    }

    /**
     * A store image as an export: its manifest now (a missing image, a refused credential or a manifest that is not
     * the pinned one stops the start, before the server listens).
     */
    private StoreExport openStore(StoreLocation at, String pin, ChunkCache cache) throws java.io.IOException {
        StoreClient client = StoreClient.open(at);
        try {
            Manifest m = client.readManifest(at, pin).manifest();
            ChunkFetcher f = ChunkFetcher.builder(at.display(), m).cache(cache).store(new StoreChunkSource(client, at))
                    .storeConcurrency(storeConcurrency).giveUp(STORE_GIVE_UP).build();
            return new StoreExport(at.name(), f);
        } catch (java.io.IOException | RuntimeException e) {
            client.close();
            throw e;
        }
    }
}

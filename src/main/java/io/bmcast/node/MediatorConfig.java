package io.bmcast.node;

import io.bmcast.imagestore.ChunkFetcher;
import io.bmcast.imagestore.ImageUri;
import io.bmcast.imagestore.ManifestDigest;
import io.bmcast.transport.NbdUri;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.Properties;

/**
 * What one mediator serves and how: the settings {@code bmcast node} takes as options, and the file
 * ({@link NodeState#CONFIG}, a {@link Properties} file) that {@code instance run} writes into the state dir for
 * the mediator it starts ({@link MediatorMain}). A file, not a second command line: the mediator's JVM then
 * loads no command-line parser at all, and its start is on the path to the guest's boot.
 *
 * @param hydrateRate bytes per second for the background copy, 0 for no cap
 * @param bootProfile regions a recorded boot read, fetched first; null for none
 * @param sourceExtents the image's extent map as the control plane caches it; null to ask the image server
 * @param hydration how the background copy shares the link with a busy guest ({@link Hydration#DEFAULTS} when a
 *     file written before these settings existed is read)
 * @param tlsDir the client's TLS credentials (ca-cert.pem, client-cert.pem...) for an {@code nbds://} image; null for none
 * @param allowLowSpace start a fresh deployment even when the local disk's file system lacks room for the image's data
 * @param store how an {@code s3://} image is fetched (cache, peers, limits); ignored for an NBD image
 */
public record MediatorConfig(ImageUri image, Path disk, Path state, Path socket, long regionSize, long hydrateRate,
        Duration giveUp, Path bootProfile, Path sourceExtents, Hydration hydration, Path tlsDir, boolean allowLowSpace,
        Store store) {
    public static final long DEFAULT_REGION_SIZE = 64 * 1024;
    public static final Duration DEFAULT_GIVE_UP = Duration.ofSeconds(60);

    /**
     * How the background copy competes with a busy guest.
     *
     * @param share the least fraction of the time the background copy has the link while the guest is busy (0..1]
     * @param by a deadline measured from the deployment's first start (recorded in the state dir), by which the disk
     *     is to be entirely local: the share rises as needed; null for none
     * @param background false for remote-only: reads are fetched on demand and kept, nothing is copied in the
     *     background, so the disk never completes (the paper's "KVM without background install")
     */
    public record Hydration(double share, Duration by, boolean background) {
        /**
         * 0.2: a busy guest keeps at least 80% of the link, and a disk still completes in 5x its idle-link copy
         * time (a 1 GiB image at 1 Gbit/s: ~45 s instead of ~9 s) however busy the guest is.
         */
        public static final double DEFAULT_SHARE = 0.2;
        public static final Hydration DEFAULTS = new Hydration(DEFAULT_SHARE, null, true);

        public Hydration {
            if (!(share > 0 && share <= 1)) throw new IllegalArgumentException("the hydrate share must be more than 0 and at most 1: " + share);
            if (by != null && (by.isNegative() || by.isZero())) throw new IllegalArgumentException("the hydrate deadline must be positive: " + by);
        }
    }

    /**
     * How a mediator fetches an image's chunks from the store.
     *
     * @param chunkCache this node's chunk cache ({@code --chunk-cache DIR}), shared with the agent's peer server; null
     *     for none
     * @param cacheSize the cache's cap in bytes ({@code --cache-size})
     * @param peers a properties file ({@code token=...}, {@code peers=URL1,URL2,...} nearest first); null or a missing
     *     file for none
     * @param concurrency the most store requests in flight at once ({@code --store-concurrency})
     * @param injectCorrupt the share of chunks from the store that get one byte flipped on the way (a fault filter for
     *     tests and benches); 0 in production
     * @param manifestSha256 the manifest's expected {@link io.bmcast.imagestore.ManifestDigest} (recorded when the image
     *     was added); a manifest with another digest is refused before a byte is served; null pins nothing (an ad-hoc
     *     {@code node --image s3://...})
     * @param chunkSocket where the mediator serves its chunks to its node's peer server ({@code --chunk-socket}, a
     *     Unix socket of mode 0600); null for nowhere
     */
    public record Store(Path chunkCache, long cacheSize, Path peers, int concurrency, double injectCorrupt, String manifestSha256,
            Path chunkSocket) {
        /** 20 GiB: a few images' worth on a node, small beside a node's disk. */
        public static final long DEFAULT_CACHE_SIZE = 20L << 30;
        public static final Store DEFAULTS = new Store(null, DEFAULT_CACHE_SIZE, null, ChunkFetcher.DEFAULT_STORE_CONCURRENCY, 0);

        public Store(Path chunkCache, long cacheSize, Path peers, int concurrency, double injectCorrupt) {
            this(chunkCache, cacheSize, peers, concurrency, injectCorrupt, null, null);
        }

        public Store(Path chunkCache, long cacheSize, Path peers, int concurrency, double injectCorrupt, String manifestSha256) {
            this(chunkCache, cacheSize, peers, concurrency, injectCorrupt, manifestSha256, null);
        }

        public Store {
            manifestSha256 = ManifestDigest.parse(manifestSha256);
            if (cacheSize <= 0) throw new IllegalArgumentException("the cache size must be positive: " + cacheSize);
            if (concurrency < 1) throw new IllegalArgumentException("the store concurrency must be at least 1: " + concurrency);
            if (!(injectCorrupt >= 0 && injectCorrupt <= 1)) throw new IllegalArgumentException("the corruption rate is a share from 0 to 1: " + injectCorrupt);
        }
    }

    public MediatorConfig(NbdUri image, Path disk, Path state, Path socket, long regionSize, long hydrateRate,
            Duration giveUp, Path bootProfile, Path sourceExtents) {
        this(image, disk, state, socket, regionSize, hydrateRate, giveUp, bootProfile, sourceExtents, Hydration.DEFAULTS, null, false);
    }

    public MediatorConfig(NbdUri image, Path disk, Path state, Path socket, long regionSize, long hydrateRate,
            Duration giveUp, Path bootProfile, Path sourceExtents, Hydration hydration) {
        this(image, disk, state, socket, regionSize, hydrateRate, giveUp, bootProfile, sourceExtents, hydration, null, false);
    }

    public MediatorConfig(NbdUri image, Path disk, Path state, Path socket, long regionSize, long hydrateRate,
            Duration giveUp, Path bootProfile, Path sourceExtents, Hydration hydration, Path tlsDir, boolean allowLowSpace) {
        this(ImageUri.of(image), disk, state, socket, regionSize, hydrateRate, giveUp, bootProfile, sourceExtents, hydration,
                tlsDir, allowLowSpace, Store.DEFAULTS);
    }

    public MediatorConfig {
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(disk, "disk");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(giveUp, "giveUp");
        Objects.requireNonNull(hydration, "hydration");
        if (store == null) store = Store.DEFAULTS;
    }

    /** Writes the settings to {@code file}, whole or not at all (a mediator restarted meanwhile reads one or the other). */
    public void write(Path file) throws IOException {
        Properties p = new Properties();
        p.setProperty("image", image.toString());
        p.setProperty("disk", disk.toString());
        p.setProperty("state", state.toString());
        p.setProperty("socket", socket.toString());
        p.setProperty("regionSize", Long.toString(regionSize));
        p.setProperty("hydrateRate", Long.toString(hydrateRate));
        p.setProperty("giveUp", giveUp.toString());
        if (bootProfile != null) p.setProperty("bootProfile", bootProfile.toString());
        if (sourceExtents != null) p.setProperty("sourceExtents", sourceExtents.toString());
        p.setProperty("hydrateShare", Double.toString(hydration.share()));
        if (hydration.by() != null) p.setProperty("hydrateBy", hydration.by().toString());
        p.setProperty("backgroundCopy", Boolean.toString(hydration.background()));
        if (tlsDir != null) p.setProperty("tlsDir", tlsDir.toString());
        if (allowLowSpace) p.setProperty("allowLowSpace", "true");
        if (store.chunkCache() != null) p.setProperty("chunkCache", store.chunkCache().toString());
        p.setProperty("cacheSize", Long.toString(store.cacheSize()));
        if (store.peers() != null) p.setProperty("peers", store.peers().toString());
        p.setProperty("storeConcurrency", Integer.toString(store.concurrency()));
        if (store.injectCorrupt() > 0) p.setProperty("injectCorrupt", Double.toString(store.injectCorrupt()));
        if (store.manifestSha256() != null) p.setProperty("manifestSha256", store.manifestSha256());
        if (store.chunkSocket() != null) p.setProperty("chunkSocket", store.chunkSocket().toString());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "bmcast mediator (written by instance run, read by the mediator it starts)");
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static MediatorConfig read(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        try {
            return new MediatorConfig(ImageUri.parse(required(p, "image", file)), Path.of(required(p, "disk", file)),
                    Path.of(required(p, "state", file)), Path.of(required(p, "socket", file)),
                    Long.parseLong(required(p, "regionSize", file)), Long.parseLong(required(p, "hydrateRate", file)),
                    Duration.parse(required(p, "giveUp", file)), optionalPath(p, "bootProfile"), optionalPath(p, "sourceExtents"),
                    hydration(p), optionalPath(p, "tlsDir"), Boolean.parseBoolean(p.getProperty("allowLowSpace", "false")), store(p));
        } catch (IllegalArgumentException | DateTimeParseException e) {
            throw new IOException(file + " is not a mediator's configuration: " + e.getMessage(), e);
        }
    }

    /** Older files have none of these keys: the defaults then. */
    private static Hydration hydration(Properties p) {
        String share = p.getProperty("hydrateShare");
        String by = p.getProperty("hydrateBy");
        return new Hydration(share == null ? Hydration.DEFAULT_SHARE : Double.parseDouble(share),
                by == null ? null : Duration.parse(by), !"false".equals(p.getProperty("backgroundCopy")));
    }

    /** Older files have none of these keys: the defaults then. */
    private static Store store(Properties p) {
        String size = p.getProperty("cacheSize");
        String n = p.getProperty("storeConcurrency");
        return new Store(optionalPath(p, "chunkCache"), size == null ? Store.DEFAULT_CACHE_SIZE : Long.parseLong(size),
                optionalPath(p, "peers"), n == null ? ChunkFetcher.DEFAULT_STORE_CONCURRENCY : Integer.parseInt(n),
                Double.parseDouble(p.getProperty("injectCorrupt", "0")), p.getProperty("manifestSha256"), optionalPath(p, "chunkSocket"));
    }

    private static String required(Properties p, String key, Path file) throws IOException {
        String v = p.getProperty(key);
        if (v == null) throw new IOException(file + " is not a mediator's configuration: it has no " + key);
        return v;
    }

    private static Path optionalPath(Properties p, String key) {
        String v = p.getProperty(key);
        return v == null ? null : Path.of(v);
    }
}

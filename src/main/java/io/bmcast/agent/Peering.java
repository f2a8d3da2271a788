package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.imagestore.ChunkCache;
import io.bmcast.imagestore.ChunkProvider;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.PeerServer;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;

/**
 * A node's part in the peer network: its chunk cache ({@code WORK/chunk-cache}, shared with the mediators of its
 * instances), the server that lends it to peers, the fleet's peer token (from the controller's Welcome), and the
 * images whose chunks the cache holds (reported at every heartbeat, so the controller can name this node as a peer).
 *
 * <p>The cache lives under the agent's WORK, beside the disk file, never on the tenant's disk: a scrub wipes the disk
 * and the instance's files and leaves it alone. It holds only chunks verified against the names the operator
 * published (the mediator keeps a chunk after {@code ChunkVerifier}, never a byte a guest wrote), so it is no
 * tenant's data and survives tenants and agent restarts.
 *
 * <pre>
 *  WORK/chunk-cache/ab/SHA256   a chunk as stored (ChunkCache)
 *  WORK/chunk-cache/images      the images whose every chunk this cache holds, newest last (one per line)
 *  WORK/chunk-cache/image-chunks/NAME   each one's chunk names (one per line), to check them against evictions
 *  WORK/instance/peers          the peers file for one instance run (token=, peers=): mode 0600, gone with the instance
 * </pre>
 */
public final class Peering implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.agent");
    static final String IMAGES = "images";
    static final String IMAGE_CHUNKS = "image-chunks";

    private final ChunkCache cache;
    private final PeerServer server;
    private final String advertised;
    private final String zone;
    private volatile String token;
    /** The CA the mediators trust for peers' HTTPS ({@code --peer-tls-dir}'s ca-cert.pem), or null. */
    private volatile Path peerCa;
    /** The images reported as cached, newest last. Guarded by {@code this}. */
    private final LinkedHashSet<String> images = new LinkedHashSet<>();
    /**
     * Each listed image's distinct chunk names, 32 bytes each (an image of 32 GiB in 1 MiB chunks: 1 MiB here; only
     * images wholly in the cache are listed, so together they name at most the cache's chunks, with repeats).
     * Guarded by {@code this}.
     */
    private final Map<String, byte[]> chunksOf = new HashMap<>();
    /** The cache's {@link ChunkCache#removals} token when the list was last checked. Guarded by {@code this}. */
    private String checkedAt = "never";
    /** The deployment whose image was last listed: each deployment is listed once. Guarded by {@code this}. */
    private String listedFor;

    private Peering(ChunkCache cache, PeerServer server, String advertised, String zone) throws IOException {
        this.cache = cache;
        this.server = server;
        this.advertised = advertised;
        this.zone = zone;
        if (cache != null) {
            Path f = cache.dir().resolve(IMAGES);
            if (Files.exists(f)) {
                for (String line : Files.readAllLines(f)) {
                    String name = line.strip();
                    if (name.isEmpty()) continue;
                    byte[] chunks = readChunks(cache.dir().resolve(IMAGE_CHUNKS).resolve(name));
                    // Listed by an agent that kept no chunk names: nothing to check it by, so no longer claimed.
                    if (chunks == null) continue;
                    images.add(name);
                    chunksOf.put(name, chunks);
                }
            }
        }
    }

    /** No cache, no server: instances stream from the store alone, and the node is nobody's peer. */
    public static Peering none(String zone) {
        try {
            return new Peering(null, null, null, zone);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Opens the cache under {@code work} (at most {@code cacheBytes}) and serves it on {@code listen}.
     *
     * @param advertise the URL peers reach the server at, or null: the listen address
     * @param tls HTTPS for the server (the fleet's certificate), or null: plain HTTP (the chunks are verified by
     *            name either way; TLS keeps the image data from being read on the wire)
     * @param injectCorrupt the share of served chunks to flip a byte in (a fault for tests), 0 normally
     */
    public static Peering open(Path work, long cacheBytes, InetSocketAddress listen, URI advertise, String zone, SSLContext tls,
            double injectCorrupt) throws IOException {
        ChunkCache cache = ChunkCache.open(cacheDir(work), cacheBytes);
        Peering[] self = new Peering[1];
        PeerServer server = PeerServer.start(listen, tls, cache, ChunkProvider.NONE, () -> self[0] == null ? null : self[0].token, injectCorrupt, null);
        String url = advertise != null ? advertise.toString() : server.url().toString();
        self[0] = new Peering(cache, server, url, zone);
        LOG.log(Level.INFO, "chunk cache " + cache.dir() + " (up to " + io.bmcast.util.Units.formatSize(cacheBytes) + ") served to peers at "
                + url + (advertise != null ? " (listening on " + server.address() + ")" : ""));
        return self[0];
    }

    /** Where the agent keeps its chunk cache: never the tenant's disk, never under the instance's files. */
    public static Path cacheDir(Path work) {
        return work.toAbsolutePath().resolve("chunk-cache");
    }

    /** The URL this node serves peers at, or null when it serves none. */
    public String peerUrl() {
        return server == null ? null : advertised;
    }

    public String zone() {
        return zone;
    }

    public ChunkCache cache() {
        return cache;
    }

    public PeerServer server() {
        return server;
    }

    /** Mediators asking peers over HTTPS trust {@code caFile} (the fleet's CA); null: the JDK's CAs. */
    public Peering trusting(Path caFile) {
        this.peerCa = caFile == null ? null : caFile.toAbsolutePath();
        return this;
    }

    /** The fleet's peer token, from the controller's Welcome (null: not said yet). */
    public void token(String t) {
        if (t != null) token = t;
    }

    public String token() {
        return token;
    }

    /**
     * The images whose every chunk the cache holds now, at most {@link AgentProtocol#MAX_CACHED_IMAGES}, newest last:
     * what the tracker ranks this node by as a complete peer. Called at every heartbeat, so it rechecks the list only
     * after a chunk left the cache (the LRU evicted it, in this process or a mediator's): then an image missing any
     * chunk is dropped, until a deployment here holds it whole again.
     */
    public synchronized List<String> cachedImages() {
        if (cache == null || images.isEmpty()) return List.of();
        String removals = cache.removals();
        if (!java.util.Objects.equals(removals, checkedAt)) {
            checkedAt = removals;
            boolean changed = images.removeIf(image -> {
                String missing = firstMissing(chunksOf.get(image));
                if (missing == null) return false;
                LOG.log(Level.INFO, "image " + image + " is no longer wholly in the chunk cache (chunk " + missing
                        + " was evicted): no longer reported as cached");
                chunksOf.remove(image);
                return true;
            });
            if (changed) save();
        }
        return List.copyOf(images);
    }

    /**
     * Deployment {@code deployment} of {@code image} became local through the cache, with the manifest it streamed
     * ({@code manifest}, the mediator's copy): this node can serve all of it, if the cache still holds every chunk
     * (a cache smaller than the image, or another deployment's chunks, may have evicted some already). Each
     * deployment is considered once.
     */
    public synchronized void imageLocal(String image, Path manifest, String deployment) {
        if (cache == null || deployment.equals(listedFor)) return;
        listedFor = deployment;
        byte[] chunks;
        try {
            chunks = chunkNames(Manifest.parse(Files.readAllBytes(manifest), image));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "image " + image + ": cannot read the manifest its deployment kept (" + e.getMessage()
                    + "): not reported as cached");
            return;
        }
        String missing = firstMissing(chunks);
        if (missing != null) {
            LOG.log(Level.INFO, "image " + image + " is local, but the chunk cache no longer holds all of it (chunk " + missing
                    + " was evicted): not reported as cached");
            return;
        }
        try {
            Path dir = Files.createDirectories(cache.dir().resolve(IMAGE_CHUNKS));
            Path f = dir.resolve(image);
            Path tmp = dir.resolve(image + ".tmp");
            try (java.io.Writer w = Files.newBufferedWriter(tmp)) {
                for (int i = 0; i < chunks.length; i += 32) w.write(HEX.formatHex(chunks, i, i + 32) + "\n");
            }
            Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot save the chunk names of image " + image + ": " + e.getMessage());
        }
        chunksOf.put(image, chunks);
        images.remove(image);
        images.add(image);
        while (images.size() > AgentProtocol.MAX_CACHED_IMAGES) chunksOf.remove(images.removeFirst());
        save();
    }

    private static final HexFormat HEX = HexFormat.of();

    /** The manifest's distinct chunk names, 32 bytes each. */
    private static byte[] chunkNames(Manifest m) {
        LinkedHashSet<String> names = new LinkedHashSet<>();
        for (Manifest.Chunk c : m.chunks()) if (c != null) names.add(c.sha256());
        byte[] out = new byte[names.size() * 32];
        int i = 0;
        for (String n : names) {
            System.arraycopy(HEX.parseHex(n), 0, out, i, 32);
            i += 32;
        }
        return out;
    }

    /** A file of chunk names (one per line) as {@link #chunkNames} holds them; null when there is none or it is not one. */
    private static byte[] readChunks(Path file) {
        try {
            List<String> lines = Files.readAllLines(file);
            byte[] out = new byte[lines.size() * 32];
            int i = 0;
            for (String l : lines) {
                if (!io.bmcast.util.Sha256.isHex(l)) return null;
                System.arraycopy(HEX.parseHex(l), 0, out, i, 32);
                i += 32;
            }
            return out;
        } catch (IOException e) {
            return null;
        }
    }

    /** The first of {@code chunks} the cache does not hold (one stat each), or null when it holds them all. */
    private String firstMissing(byte[] chunks) {
        if (chunks == null) return "?";
        for (int i = 0; i < chunks.length; i += 32) {
            String sha = HEX.formatHex(chunks, i, i + 32);
            if (!cache.contains(sha)) return sha;
        }
        return null;
    }

    private void save() {
        try {
            Path f = cache.dir().resolve(IMAGES);
            Path tmp = f.resolveSibling(IMAGES + ".tmp");
            Files.write(tmp, new ArrayList<>(images));
            Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot save the list of cached images: " + e.getMessage());
        }
    }

    /** Whether {@code image} streams chunks (an {@code s3://} image), so the cache and peers apply to it. */
    public static boolean isStoreImage(ImageSpec image) {
        return image.uri() != null && image.uri().startsWith("s3://");
    }

    /**
     * The options {@code instance run} gets for {@code image} in {@code instanceDir}: for an image in the store, the
     * cache, its size and a peers file listing {@code peers} (nearest first) with the fleet's token; nothing for an
     * NBD image, or without a cache.
     */
    public List<String> instanceArgs(ImageSpec image, List<String> peers, Path instanceDir) throws IOException {
        if (cache == null || !isStoreImage(image)) return List.of();
        List<String> a = new ArrayList<>(List.of("--chunk-cache", cache.dir().toString(), "--cache-size", Long.toString(cache.maxBytes())));
        Path file = instanceDir.resolve("peers");
        writePeers(file, token, peers == null ? List.of() : peers, peerCa);
        a.addAll(List.of("--peers", file.toString()));
        return a;
    }

    /** Writes the peers file (Java properties: {@code token=}, {@code peers=URL1,URL2}) readable by the agent's user only. */
    public static void writePeers(Path file, String token, List<String> peers) throws IOException {
        writePeers(file, token, peers, null);
    }

    /** As {@link #writePeers(Path, String, List)}, with {@code ca=} naming the CA of the peers' HTTPS (null: none). */
    public static void writePeers(Path file, String token, List<String> peers, Path ca) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, "# peers likely to hold the image's chunks, nearest first (from the controller)\n"
                + "token=" + (token == null ? "" : token) + "\npeers=" + String.join(",", peers) + "\n"
                + (ca == null ? "" : "ca=" + ca.toString().replace("\\", "\\\\") + "\n"));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void close() {
        if (server != null) server.close();
    }
}

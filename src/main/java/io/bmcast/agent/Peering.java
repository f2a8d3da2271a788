package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.imagestore.ChunkCache;
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
 *  WORK/instance/peers          the peers file for one instance run (token=, peers=, self=, complete=): mode 0600, gone with the instance
 *  WORK/instance/chunks.sock    the instance's chunk socket: its mediator serves the peer server there (0600)
 * </pre>
 */
public final class Peering implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.agent");
    static final String IMAGES = "images";
    static final String IMAGE_CHUNKS = "image-chunks";

    /** The instance's chunk socket, under its directory (gone with it). */
    static final String CHUNK_SOCKET = "chunks.sock";
    /** A Unix socket's path must fit in 108 bytes with its terminating NUL; longer ones are not used. */
    private static final int MAX_SOCKET_PATH = 100;

    private final ChunkCache cache;
    private final PeerServer server;
    /** This node's deployments, asked by the peer server for chunks its cache lacks. */
    private final LocalDeployments deployments;
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

    private Peering(ChunkCache cache, PeerServer server, LocalDeployments deployments, String advertised, String zone) throws IOException {
        this.cache = cache;
        this.server = server;
        this.deployments = deployments;
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
            return new Peering(null, null, new LocalDeployments(), null, zone);
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
        LocalDeployments deployments = new LocalDeployments();
        PeerServer server = PeerServer.start(listen, tls, cache, deployments, () -> self[0] == null ? null : self[0].token, injectCorrupt, null);
        String url = advertise != null ? advertise.toString() : server.url().toString();
        self[0] = new Peering(cache, server, deployments, url, zone);
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
     * cache, its size and a peers file with the fleet's token and the deployment's {@code peers}; nothing for an NBD
     * image, or without a cache.
     *
     * <p>With {@code complete} (a controller that lists every member of the image's deployment) and a peer server of
     * its own, the file also names this node ({@code self=}) and the complete members: the mediator then asks the
     * members along each chunk's tree, and serves its chunks to this node's peer server on a chunk socket in
     * {@code instanceDir}, so the members below it get them from it as soon as it has them. Without, the peers are
     * asked in order and the peer server lends the cache alone (pulling through without a tree could go round in a
     * circle).
     *
     * @param peers the other members' peer URLs (null: none)
     * @param complete the members holding the whole image, or null from a controller that lists a few peers
     */
    public List<String> instanceArgs(ImageSpec image, List<String> peers, List<String> complete, Path instanceDir) throws IOException {
        if (cache == null || !isStoreImage(image)) return List.of();
        List<String> a = new ArrayList<>(List.of("--chunk-cache", cache.dir().toString(), "--cache-size", Long.toString(cache.maxBytes())));
        List<String> others = new ArrayList<>(peers == null ? List.of() : peers);
        String self = server != null && complete != null ? advertised : null;
        if (self != null) others.remove(self); // a controller lists the others; this node is never its own peer
        Path file = instanceDir.resolve("peers");
        writePeers(file, token, others, peerCa, self, self == null ? List.of() : complete);
        a.addAll(List.of("--peers", file.toString()));
        Path socket = instanceDir.toAbsolutePath().resolve(CHUNK_SOCKET);
        if (self != null && socket.toString().length() <= MAX_SOCKET_PATH) {
            deployments.starting(socket);
            a.addAll(List.of("--chunk-socket", socket.toString()));
        } else if (self != null) {
            LOG.log(Level.WARNING, "the chunk socket " + socket + " would be too long a path for a Unix socket: members below this node "
                    + "in the tree get only what the cache holds (use a shorter WORK)");
        }
        return a;
    }

    /** A deployment that was running in {@code instanceDir} before this agent started (its chunk socket, if any, is asked). */
    public void adopt(Path instanceDir) {
        Path socket = instanceDir.toAbsolutePath().resolve(CHUNK_SOCKET);
        if (server != null && Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) deployments.running(socket);
    }

    /** The deployment in {@code instanceDir} is past its start (its guest runs): its chunk socket listens, or it ended. */
    public void instanceStarted(Path instanceDir) {
        deployments.started(instanceDir.toAbsolutePath().resolve(CHUNK_SOCKET));
    }

    /** The deployment in {@code instanceDir} ended (destroyed, failed): the peer server stops asking it. */
    public void instanceEnded(Path instanceDir) {
        deployments.ended(instanceDir.toAbsolutePath().resolve(CHUNK_SOCKET));
    }

    /** Writes the peers file (Java properties: {@code token=}, {@code peers=URL1,URL2}) readable by the agent's user only. */
    public static void writePeers(Path file, String token, List<String> peers) throws IOException {
        writePeers(file, token, peers, null);
    }

    /** As {@link #writePeers(Path, String, List)}, with {@code ca=} naming the CA of the peers' HTTPS (null: none). */
    public static void writePeers(Path file, String token, List<String> peers, Path ca) throws IOException {
        writePeers(file, token, peers, ca, null, List.of());
    }

    /**
     * As {@link #writePeers(Path, String, List, Path)}, for a deployment's members: {@code self=} this node's own peer
     * URL (null: none, the peers are asked in order) and {@code complete=} the members holding the whole image
     * ({@link io.bmcast.imagestore.PeerList} reads it).
     */
    public static void writePeers(Path file, String token, List<String> peers, Path ca, String self, List<String> complete) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, (self == null ? "# peers likely to hold the image's chunks, nearest first (from the controller)\n"
                : "# the members of this image's deployment (from the controller), asked along each chunk's tree\n")
                + "token=" + (token == null ? "" : token) + "\npeers=" + String.join(",", peers) + "\n"
                + (ca == null ? "" : "ca=" + ca.toString().replace("\\", "\\\\") + "\n")
                + (self == null ? "" : "self=" + self + "\n")
                + (complete.isEmpty() ? "" : "complete=" + String.join(",", complete) + "\n"));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void close() {
        if (server != null) server.close();
    }
}

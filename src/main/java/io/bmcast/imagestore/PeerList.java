package io.bmcast.imagestore;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The peers a mediator may ask for chunks, as the agent hands them over ({@code --peers FILE}): a properties file
 * with {@code token=...} (the bearer token the peers take) and {@code peers=URL1,URL2,...}, nearest first, and
 * optionally {@code ca=FILE}: the CA (PEM) that signed the peers' HTTPS certificates, when not one the JDK trusts. A
 * missing file is no peers: the store alone.
 *
 * <p>With {@code self=URL} (this node's own peer server) the peers are the members of a deployment and the
 * mediator asks them along each chunk's {@link PeerTree} ({@link ChunkFetcher.Builder#tree}); {@code complete=URL,...}
 * names the members whose caches hold the whole image (ranked first). Without {@code self}, the peers are asked in
 * the order listed.
 */
public record PeerList(String token, List<URI> peers, Path ca, URI self, List<URI> complete) {
    public static final PeerList NONE = new PeerList(null, List.of());

    public PeerList {
        peers = List.copyOf(peers);
        complete = List.copyOf(complete);
    }

    public PeerList(String token, List<URI> peers) {
        this(token, peers, null);
    }

    public PeerList(String token, List<URI> peers, Path ca) {
        this(token, peers, ca, null, List.of());
    }

    /** The name a member goes by in a {@link PeerTree}: the name of its {@link #sources() source}. */
    public static String memberName(URI peer) {
        return "peer " + peer.getAuthority();
    }

    /** {@link #memberName} of {@link #self}, or null without one. */
    public String selfName() {
        return self == null ? null : memberName(self);
    }

    /** {@link #memberName} of each {@link #complete} member. */
    public java.util.Set<String> completeNames() {
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        for (URI u : complete) out.add(memberName(u));
        return out;
    }

    /** Reads {@code file}; {@link #NONE} when there is no such file. */
    public static PeerList read(Path file) throws IOException {
        if (file == null) return NONE;
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException none) {
            return NONE;
        }
        List<URI> urls = urls(file, p.getProperty("peers", ""));
        List<URI> self = urls(file, p.getProperty("self", ""));
        String ca = p.getProperty("ca", "");
        return new PeerList(p.getProperty("token"), urls, ca.isBlank() ? null : Path.of(ca.strip()),
                self.isEmpty() ? null : self.getFirst(), urls(file, p.getProperty("complete", "")));
    }

    private static List<URI> urls(Path file, String list) throws IOException {
        List<URI> urls = new ArrayList<>();
        for (String u : list.split(",")) {
            if (u.isBlank()) continue;
            try {
                urls.add(StoreLocation.endpoint(u.strip()));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
        }
        return urls;
    }

    /** Writes the file whole or not at all (a mediator may read it at any moment). */
    public void write(Path file) throws IOException {
        Properties p = new Properties();
        if (token != null) p.setProperty("token", token);
        p.setProperty("peers", String.join(",", peers.stream().map(URI::toString).toList()));
        if (ca != null) p.setProperty("ca", ca.toString());
        if (self != null) p.setProperty("self", self.toString());
        if (!complete.isEmpty()) p.setProperty("complete", String.join(",", complete.stream().map(URI::toString).toList()));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "bmcast: peers to ask for chunks, nearest first");
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** One source per peer, named by its address; over HTTPS trusting {@link #ca()} when one is named. */
    public List<ChunkSource> sources() throws IOException {
        javax.net.ssl.SSLContext tls = ca == null ? null : io.bmcast.transport.TlsCredentials.httpsClient(ca);
        List<ChunkSource> out = new ArrayList<>();
        for (URI u : peers) out.add(new HttpChunkSource(memberName(u), u, token, tls));
        return out;
    }
}

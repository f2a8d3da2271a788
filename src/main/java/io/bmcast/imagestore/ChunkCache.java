package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A node's bounded cache of verified chunks, on the node's own disk (never a tenant's): {@code DIR/ab/<sha256>}
 * holds a chunk's bytes as stored, so a peer can serve the file as it is and the receiver can check it by its
 * name. Several processes share one directory (the agent's peer server and each mediator), so a chunk is written
 * under {@code DIR/tmp/} and renamed into place: a reader sees a whole chunk or none. A hit touches the file's
 * mtime, and {@link #keep} evicts the least recently used files while the directory holds more than its cap.
 *
 * <p>Only {@link ChunkFetcher} (after {@link ChunkVerifier}) or a peer server holding bytes it verified calls
 * {@link #keep}: nothing a guest wrote ever gets here. {@link #fetch} does not verify; its caller checks every
 * source alike, and {@link #drop}s a file that fails (a disk that rots).
 */
public final class ChunkCache implements ChunkSource {
    /** Another process's write that died half-way leaves a temp file; older than this it is nobody's. */
    private static final long STALE_TMP_MS = 3_600_000;
    /** Recount the directory now and then: the other processes sharing it add chunks this one does not see. */
    private static final int RESCAN_EVERY = 256;
    /**
     * Rewritten (a new token) whenever any process sharing the directory removes a chunk, so that a reader of a
     * list of complete images (the agent's report to the tracker) rechecks it only after a removal, not every time.
     */
    static final String REMOVED = "removed";

    private final Path dir;
    private final Path tmp;
    private final long maxBytes;
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong keepsSinceScan = new AtomicLong();
    private final Object evicting = new Object();

    private ChunkCache(Path dir, long maxBytes) {
        this.dir = dir;
        this.tmp = dir.resolve("tmp");
        this.maxBytes = maxBytes;
    }

    /** Opens (creating) the cache in {@code dir}, holding at most {@code maxBytes} of chunks. */
    public static ChunkCache open(Path dir, long maxBytes) throws IOException {
        if (maxBytes <= 0) throw new IllegalArgumentException("a chunk cache needs a positive size, not " + maxBytes);
        ChunkCache c = new ChunkCache(dir.toAbsolutePath(), maxBytes);
        Files.createDirectories(c.tmp);
        c.removeStaleTemps();
        c.bytes.set(c.scan(null));
        return c;
    }

    public Path dir() {
        return dir;
    }

    public long maxBytes() {
        return maxBytes;
    }

    /** Bytes of chunks in the directory, as this process last counted them. */
    public long bytes() {
        return bytes.get();
    }

    @Override
    public String name() {
        return "cache " + dir;
    }

    /** Where chunk {@code sha256} lives (whether or not it is there). */
    public Path path(String sha256) {
        if (!Sha256.isHex(sha256)) throw new IllegalArgumentException("'" + sha256 + "' is not a chunk name (64 lowercase hex digits)");
        return dir.resolve(sha256.substring(0, 2)).resolve(sha256);
    }

    /** True when the cache holds chunk {@code sha256} now. */
    public boolean contains(String sha256) {
        return Files.isRegularFile(path(sha256));
    }

    @Override
    public ByteBuffer fetch(Manifest.Chunk chunk) throws IOException {
        return get(chunk.sha256());
    }

    /**
     * The stored bytes of chunk {@code sha256} as the file holds them (not verified here), or null on a miss.
     * For a peer server, which knows a chunk only by its name. A hit counts as a use (LRU).
     */
    public ByteBuffer get(String sha256) throws IOException {
        Path p = path(sha256);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long n = ch.size();
            if (n > Manifest.MAX_CHUNK + (Manifest.MAX_CHUNK >> 4)) return null; // nobody stores this; not a chunk
            ByteBuffer b = ByteBuffer.allocate((int) n);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // fill
            }
            b.flip();
            touch(p);
            return b;
        } catch (NoSuchFileException miss) {
            return null; // never held, or evicted by another process a moment ago
        }
    }

    private static void touch(Path p) {
        try {
            Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis()));
        } catch (IOException gone) {
            // evicted meanwhile: the bytes read are still whole
        }
    }

    /**
     * Keeps a chunk whose stored bytes ({@code verified}, position to limit, left unmoved) the caller has checked
     * with {@link ChunkVerifier}, then evicts least recently used chunks while the cache exceeds its cap.
     */
    public void keep(Manifest.Chunk chunk, ByteBuffer verified) throws IOException {
        if (verified.remaining() != chunk.storedSize()) {
            throw new IllegalArgumentException("chunk " + chunk.sha256() + " is " + chunk.storedSize() + " bytes stored, not " + verified.remaining());
        }
        Path target = path(chunk.sha256());
        if (Files.isRegularFile(target)) {
            touch(target);
            return;
        }
        if (chunk.storedSize() > maxBytes) return; // could never stay
        Files.createDirectories(target.getParent());
        Path t = tmp.resolve(chunk.sha256() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            try (FileChannel ch = FileChannel.open(t, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = verified.duplicate();
                while (b.hasRemaining()) ch.write(b);
            }
            try {
                Files.move(t, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException raced) {
                // another process kept the same chunk first: same name, same bytes
            }
        } finally {
            Files.deleteIfExists(t);
        }
        long now = bytes.addAndGet(chunk.storedSize());
        if (now > maxBytes || keepsSinceScan.incrementAndGet() >= RESCAN_EVERY) evict();
    }

    /** Removes chunk {@code sha256} (it failed verification: the disk under the cache is not to be trusted for it). */
    public void drop(String sha256) throws IOException {
        Path p = path(sha256);
        long n;
        try {
            n = Files.size(p);
        } catch (NoSuchFileException gone) {
            return;
        }
        if (Files.deleteIfExists(p)) {
            bytes.addAndGet(-n);
            markRemoved();
        }
    }

    /**
     * A token that changes whenever a chunk was removed from the directory (evicted or dropped, by any process), or
     * null when none ever was: equal tokens mean every chunk held at the first is still held at the second.
     */
    public String removals() {
        try {
            return Files.readString(dir.resolve(REMOVED));
        } catch (NoSuchFileException none) {
            return null;
        } catch (IOException e) {
            return "unreadable " + System.nanoTime(); // cannot tell: count it as a change
        }
    }

    private void markRemoved() {
        try {
            Path t = tmp.resolve(REMOVED + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            Files.writeString(t, ProcessHandle.current().pid() + "-" + System.nanoTime() + "-" + ThreadLocalRandom.current().nextLong());
            Files.move(t, dir.resolve(REMOVED), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // the token is a hint for the agent's report; the chunk is gone either way
        }
    }

    /** Recounts the directory and deletes the least recently used chunks while it holds more than the cap. */
    private void evict() throws IOException {
        synchronized (evicting) {
            keepsSinceScan.set(0);
            List<Entry> entries = new ArrayList<>();
            long total = scan(entries);
            if (total > maxBytes) {
                entries.sort(Comparator.comparingLong(Entry::mtime));
                boolean removed = false;
                for (Entry e : entries) {
                    if (total <= maxBytes) break;
                    try {
                        if (Files.deleteIfExists(e.path)) {
                            total -= e.size;
                            removed = true;
                        }
                    } catch (IOException ignored) {
                        // another process's business now
                    }
                }
                if (removed) markRemoved();
            }
            bytes.set(total);
        }
    }

    private record Entry(Path path, long size, long mtime) {}

    /** Total bytes of chunk files under the two-hex-digit directories; lists them into {@code into} if given. */
    private long scan(List<Entry> into) throws IOException {
        long total = 0;
        try (DirectoryStream<Path> tops = Files.newDirectoryStream(dir, p -> p.getFileName().toString().length() == 2)) {
            for (Path top : tops) {
                try (DirectoryStream<Path> files = Files.newDirectoryStream(top)) {
                    for (Path f : files) {
                        BasicFileAttributes a;
                        try {
                            a = Files.readAttributes(f, BasicFileAttributes.class);
                        } catch (NoSuchFileException gone) {
                            continue;
                        }
                        if (!a.isRegularFile()) continue;
                        total += a.size();
                        if (into != null) into.add(new Entry(f, a.size(), a.lastModifiedTime().toMillis()));
                    }
                } catch (NoSuchFileException gone) {
                    // removed meanwhile
                }
            }
        }
        return total;
    }

    private void removeStaleTemps() throws IOException {
        long cutoff = System.currentTimeMillis() - STALE_TMP_MS;
        try (DirectoryStream<Path> ts = Files.newDirectoryStream(tmp)) {
            for (Path t : ts) {
                try {
                    if (Files.getLastModifiedTime(t).toMillis() < cutoff) Files.deleteIfExists(t);
                } catch (IOException ignored) {
                    // another process cleaning up too
                }
            }
        }
    }
}

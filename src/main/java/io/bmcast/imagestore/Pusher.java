package io.bmcast.imagestore;

import io.bmcast.storage.FileHoles;
import io.bmcast.util.Sha256;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code image push}: a file or block device into the store as content-addressed chunks plus a manifest.
 *
 * <p>Order, and why a push interrupted anywhere is harmless: every chunk (and boot file) is uploaded, or found
 * present by HEAD, before the manifest is written, and the manifest is written once, last, by one PUT (atomic in
 * S3). Until then the image does not exist; chunks already uploaded are simply found by the next push, which is
 * how a push resumes. A stored object whose length is not the chunk's is uploaded again, never trusted.
 *
 * <p>Holes: a chunk wholly inside a hole of the file ({@code SEEK_DATA}/{@code SEEK_HOLE}) is never read; a chunk
 * read from data that is all zeros is stored as a hole too (it reads back the same, and a preallocated or
 * zero-filled image then costs the store nothing). Chunks are read with positional I/O by {@code jobs} workers
 * (virtual threads), each holding one chunk in memory, so memory is bounded by {@code jobs x 2 x chunkSize}.
 */
public final class Pusher {
    /** What to push where. {@code parent}: the image this one derives from, recorded in the manifest (or null). */
    public record Options(Path file, int chunkSize, Path kernel, Path initrd, String append, String parent, int jobs) {
        public Options {
            if (Integer.bitCount(chunkSize) != 1 || chunkSize < Manifest.MIN_CHUNK || chunkSize > Manifest.MAX_CHUNK) {
                throw new IllegalArgumentException("the chunk size must be a power of two from 64K to 16M, not " + chunkSize);
            }
            if (jobs < 1 || jobs > 256) throw new IllegalArgumentException("--jobs must be 1 to 256, not " + jobs);
            if (initrd != null && kernel == null) throw new IllegalArgumentException("--initrd needs --kernel");
            if (append != null && kernel == null) throw new IllegalArgumentException("--append needs --kernel");
        }
    }

    /**
     * What a push did. {@code dataChunks} = {@code uploaded + present}; {@code storedBytes}: what the image's data
     * chunks take in the store (compressed where that paid), {@code uploadedBytes}: what this push sent;
     * {@code manifestSha256}: the {@link ManifestDigest} of the manifest written, which {@code image add} pins.
     */
    public record Summary(String image, long size, int chunks, long dataBytes, int dataChunks, int uploaded, int present,
            long storedBytes, long uploadedBytes, long nanos, String manifestSha256) {
        /** The share of data chunks the store held already (0 for a first push, ~0.95 for a 95%-shared image). */
        public double dedup() {
            return dataChunks == 0 ? 0 : (double) present / dataChunks;
        }
    }

    private final StoreClient store;
    private final StoreLocation image;

    public Pusher(StoreClient store, StoreLocation image) {
        this.store = store;
        this.image = image;
    }

    public Summary push(Options o, TransferProgress progress) throws IOException {
        long start = System.nanoTime();
        if (!store.bucketExists()) {
            throw new StoreException("there is no " + store.where() + ": create it, or push with --create-bucket", true, null);
        }
        Manifest.BootFile kernel = o.kernel() == null ? null : uploadFile(o.kernel(), "kernel");
        Manifest.BootFile initrd = o.initrd() == null ? null : uploadFile(o.initrd(), "initrd");
        try (FileChannel ch = FileChannel.open(o.file(), StandardOpenOption.READ); FileHoles holes = FileHoles.open(o.file(), false)) {
            long size = holes.size(); // lseek(SEEK_END): a block device's st_size is 0
            if (size <= 0) throw new IOException(o.file() + " is empty: nothing to push");
            int count = (int) ((size + o.chunkSize() - 1) / o.chunkSize());
            boolean[] data = dataChunks(holes, size, o.chunkSize(), count);
            progress.total(countTrue(data));
            Run run = new Run(ch, o.file(), size, o.chunkSize(), data);
            run.runAll(o.jobs(), progress);
            List<Manifest.Chunk> chunks = Arrays.asList(run.chunks);
            Manifest m = new Manifest(size, o.chunkSize(), chunks, kernel, initrd, o.append(), List.of(), o.parent(),
                    Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
            // Last, and only once every chunk it names is known stored: see the class comment.
            byte[] json = m.toJson();
            store.put(image.manifestKey(), ByteBuffer.wrap(json), "application/json");
            long dataBytes = 0;
            for (int i = 0; i < count; i++) if (run.chunks[i] != null) dataBytes += m.chunkLength(i);
            return new Summary(image.display(), size, count, dataBytes, countData(run.chunks), (int) run.uploads.get(),
                    (int) run.found.get(), m.storedBytes(), progress.bytes(), System.nanoTime() - start, ManifestDigest.of(json));
        }
    }

    private static int countTrue(boolean[] flags) {
        int n = 0;
        for (boolean f : flags) if (f) n++;
        return n;
    }

    private static int countData(Manifest.Chunk[] chunks) {
        int n = 0;
        for (Manifest.Chunk c : chunks) if (c != null) n++;
        return n;
    }

    /** Which chunks hold any data by SEEK_DATA/SEEK_HOLE; all of them where the file cannot say (some devices). */
    static boolean[] dataChunks(FileHoles holes, long size, int chunkSize, int count) throws IOException {
        boolean[] data = new boolean[count];
        try {
            long pos = 0;
            while (pos < size) {
                long d = holes.nextData(pos);
                if (d < 0 || d >= size) break;
                long h = Math.min(holes.nextHole(d), size);
                for (long c = d / chunkSize; c <= (h - 1) / chunkSize; c++) data[(int) c] = true;
                pos = h;
            }
        } catch (FileHoles.ErrnoException unsupported) {
            Arrays.fill(data, true);
        }
        return data;
    }

    /** A boot file, stored whole under its SHA-256 unless the store holds it already. */
    private Manifest.BootFile uploadFile(Path f, String what) throws IOException {
        if (!Files.isRegularFile(f)) throw new IOException("no such " + what + " file: " + f);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE - 64) throw new IOException(what + " " + f + " is over 2 GiB");
            MappedByteBuffer bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            String sha = Sha256.hex(bytes);
            String key = image.fileKey(sha);
            if (store.head(key) != size) store.put(key, bytes, "application/octet-stream");
            return new Manifest.BootFile(sha, size);
        }
    }

    /** One push's chunks: workers take the next index until none is left or one of them failed. */
    private final class Run {
        private final FileChannel ch;
        private final Path file;
        private final long size;
        private final int chunkSize;
        private final boolean[] data;
        private final byte[] zero;
        final Manifest.Chunk[] chunks;
        // Names this push has taken on (found or being uploaded): a chunk repeated inside the image is sent once.
        // Counting a repeat as present before its first copy is stored is safe: the manifest waits for all workers.
        private final Set<String> handled = ConcurrentHashMap.newKeySet();
        final AtomicLong uploads = new AtomicLong();
        final AtomicLong found = new AtomicLong();

        Run(FileChannel ch, Path file, long size, int chunkSize, boolean[] data) {
            this.ch = ch;
            this.file = file;
            this.size = size;
            this.chunkSize = chunkSize;
            this.data = data;
            this.zero = new byte[chunkSize];
            this.chunks = new Manifest.Chunk[data.length];
        }

        void runAll(int jobs, TransferProgress progress) throws IOException {
            int[] indices = new int[countTrue(data)];
            for (int i = 0, n = 0; i < data.length; i++) if (data[i]) indices[n++] = i;
            // One buffer per worker (each is one virtual thread for the whole run): memory stays jobs x chunkSize.
            ThreadLocal<ByteBuffer> buffers = ThreadLocal.withInitial(() -> ByteBuffer.allocate(chunkSize));
            ChunkWorkers.run("push", jobs, indices.length, k -> one(indices[k], buffers.get(), progress));
        }

        private void one(int i, ByteBuffer buf, TransferProgress progress) throws IOException {
            long off = (long) i * chunkSize;
            int len = (int) Math.min(chunkSize, size - off);
            buf.clear().limit(len);
            while (buf.hasRemaining()) {
                if (ch.read(buf, off + buf.position()) < 0) throw new EOFException(file + " ended at " + (off + buf.position()) + " while it was pushed");
            }
            buf.flip();
            if (Arrays.mismatch(buf.array(), 0, len, zero, 0, len) < 0) { // zeros read from data: a hole too
                progress.chunkDone(0, false);
                return;
            }
            ChunkCodec.Encoded enc = ChunkCodec.encode(buf);
            String sha = Sha256.hex(enc.stored());
            int storedSize = enc.stored().remaining();
            chunks[i] = new Manifest.Chunk(sha, enc.encoding(), storedSize);
            if (!handled.add(sha)) {
                found.incrementAndGet();
                progress.chunkDone(0, true);
                return;
            }
            String key = image.chunkKey(sha);
            if (Retry.store(() -> store.head(key)) == storedSize) {
                found.incrementAndGet();
                progress.chunkDone(0, true);
                return;
            }
            Retry.store(() -> {
                store.put(key, enc.stored(), "application/octet-stream");
                return null;
            });
            uploads.incrementAndGet();
            progress.chunkDone(storedSize, false);
        }
    }
}

package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code image pull}: an image from the store into a sparse file. Holes stay holes (never written, and neither is
 * a 4 KiB block of zeros inside a chunk); each chunk is
 * verified before a byte of it is written; the file is assembled as {@code FILE.part} and renamed to {@code FILE}
 * only when every chunk is in and synced, so {@code FILE} is always a whole, verified image or absent. When the
 * manifest names boot files, they are written first, in a directory of the caller's choice, as {@code FILE.kernel},
 * {@code FILE.initrd} (each checked against the SHA-256 it is named by) and {@code FILE.append} (the command line):
 * what {@code instance run --kernel --initrd --append} takes.
 */
public final class Puller {
    /**
     * What a pull did: {@code fetchedBytes} as stored (compressed), {@code dataBytes} as written; {@code bootFiles}
     * the boot files written beside it (empty when the image boots from its own disk).
     */
    public record Summary(String image, Path file, long size, int dataChunks, long dataBytes, long fetchedBytes, long nanos,
            List<Path> bootFiles) {}

    private static final int BLOCK = 4096;

    private final StoreClient store;
    private final StoreLocation image;
    private final String pin;

    public Puller(StoreClient store, StoreLocation image) {
        this(store, image, null);
    }

    /** {@code pin}: the manifest's expected {@link ManifestDigest} (null for none); any other manifest is refused. */
    public Puller(StoreClient store, StoreLocation image, String pin) {
        this.store = store;
        this.image = image;
        this.pin = pin;
    }

    public Summary pull(Path file, int jobs, TransferProgress progress) throws IOException {
        return pull(file, null, jobs, progress);
    }

    /** {@code bootDir}: where the boot files go, null for the output's directory. */
    public Summary pull(Path file, Path bootDir, int jobs, TransferProgress progress) throws IOException {
        long start = System.nanoTime();
        if (Files.exists(file)) throw new FileAlreadyExistsException(file.toString(), null, "exists already (pull writes a new file)");
        Manifest m = store.readManifest(image, pin).manifest();
        List<Path> boot = writeBootFiles(m, file, bootDir == null ? file.toAbsolutePath().getParent() : bootDir);
        StoredChunks chunks = new StoredChunks(store, image, m);
        int[] data = dataIndices(m);
        progress.total(data.length);
        Path part = file.resolveSibling(file.getFileName() + ".part");
        boolean done = false;
        try (RandomAccessFile raf = new RandomAccessFile(part.toFile(), "rw")) {
            raf.setLength(0);
            raf.setLength(m.size()); // ftruncate: sparse, every byte a hole until written
            FileChannel out = raf.getChannel();
            ByteBuffer zero = ByteBuffer.allocate(BLOCK);
            long[] written = new long[1];
            ChunkWorkers.run("pull", jobs, data.length, k -> {
                int i = data[k];
                ByteBuffer raw = chunks.raw(i);
                int stored = m.chunk(i).storedSize();
                long n = writeData(out, m.chunkOffset(i), raw, zero);
                synchronized (written) {
                    written[0] += n;
                }
                progress.chunkDone(stored, false);
            });
            out.force(true);
            Files.move(part, file, StandardCopyOption.ATOMIC_MOVE);
            done = true;
            return new Summary(image.display(), file, m.size(), data.length, written[0], progress.bytes(), System.nanoTime() - start, boot);
        } finally {
            if (!done) Files.deleteIfExists(part);
        }
    }

    /**
     * The manifest's boot files in {@code dir} as {@code FILE.kernel}, {@code FILE.initrd}, {@code FILE.append}, each
     * whole or absent (written as {@code .part}, renamed), the kernel and initrd only if their bytes hash to their names.
     * None exists yet: a pull overwrites nothing.
     */
    private List<Path> writeBootFiles(Manifest m, Path file, Path dir) throws IOException {
        if (m.kernel() == null) return List.of();
        String base = file.getFileName().toString();
        Map<Path, byte[]> out = new LinkedHashMap<>();
        out.put(dir.resolve(base + ".kernel"), bootFile(m.kernel(), "kernel"));
        if (m.initrd() != null) out.put(dir.resolve(base + ".initrd"), bootFile(m.initrd(), "initrd"));
        if (m.append() != null) out.put(dir.resolve(base + ".append"), (m.append() + "\n").getBytes(StandardCharsets.UTF_8));
        for (Path p : out.keySet()) {
            if (Files.exists(p)) throw new FileAlreadyExistsException(p.toString(), null, "exists already (pull writes new files)");
        }
        Files.createDirectories(dir);
        for (var e : out.entrySet()) {
            Path part = e.getKey().resolveSibling(e.getKey().getFileName() + ".part");
            try {
                Files.write(part, e.getValue());
                Files.move(part, e.getKey(), StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(part);
            }
        }
        return List.copyOf(out.keySet());
    }

    /** A boot file's bytes from the store, checked against the SHA-256 and length the manifest names it by. */
    private byte[] bootFile(Manifest.BootFile f, String what) throws IOException {
        ByteBuffer b = store.get(image.fileKey(f.sha256()));
        if (b == null) throw new StoreException("the " + what + " " + f.sha256() + " of " + image.display() + " is missing from the store (no "
                + image.fileKey(f.sha256()) + ")", true, null);
        if (b.remaining() != f.size() || !Sha256.hex(b.duplicate()).equals(f.sha256())) {
            throw new StoreException("the " + what + " of " + image.display() + " in the store does not match the SHA-256 " + f.sha256()
                    + " the manifest names it by", true, null);
        }
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    /**
     * Writes {@code raw} at {@code offset} but for its 4 KiB blocks of zeros, which stay holes: a file whose data
     * is sparse inside a chunk (an ext4 image: a few blocks per MiB) comes back as sparse as it went up, not a
     * chunk's worth per block. Returns the bytes written.
     */
    static long writeData(FileChannel out, long offset, ByteBuffer raw, ByteBuffer zero) throws IOException {
        int base = raw.position();
        int end = raw.limit();
        long written = 0;
        int runStart = -1;
        for (int b = base; ; b += BLOCK) {
            boolean past = b >= end; // one step past the last (maybe partial) block closes the last run
            boolean data = !past && raw.slice(b, Math.min(BLOCK, end - b)).mismatch(zero.slice(0, Math.min(BLOCK, end - b))) >= 0;
            if (data && runStart < 0) runStart = b;
            if (!data && runStart >= 0) {
                int runEnd = Math.min(b, end);
                ByteBuffer run = raw.slice(runStart, runEnd - runStart);
                long at = offset + (runStart - base);
                while (run.hasRemaining()) at += out.write(run, at);
                written += runEnd - runStart;
                runStart = -1;
            }
            if (past) return written;
        }
    }

    static int[] dataIndices(Manifest m) {
        int n = 0;
        for (int i = 0; i < m.chunkCount(); i++) if (m.chunk(i) != null) n++;
        int[] out = new int[n];
        n = 0;
        for (int i = 0; i < m.chunkCount(); i++) if (m.chunk(i) != null) out[n++] = i;
        return out;
    }
}

package io.bmcast.imagestore;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * {@code image pull}: an image from the store into a sparse file. Holes stay holes (never written); each chunk is
 * verified before a byte of it is written; the file is assembled as {@code FILE.part} and renamed to {@code FILE}
 * only when every chunk is in and synced, so {@code FILE} is always a whole, verified image or absent.
 */
public final class Puller {
    /** What a pull did: {@code fetchedBytes} as stored (compressed), {@code dataBytes} as written. */
    public record Summary(String image, Path file, long size, int dataChunks, long dataBytes, long fetchedBytes, long nanos) {}

    private final StoreClient store;
    private final StoreLocation image;

    public Puller(StoreClient store, StoreLocation image) {
        this.store = store;
        this.image = image;
    }

    public Summary pull(Path file, int jobs, TransferProgress progress) throws IOException {
        long start = System.nanoTime();
        if (Files.exists(file)) throw new FileAlreadyExistsException(file.toString(), null, "exists already (pull writes a new file)");
        Manifest m = store.manifest(image);
        StoredChunks chunks = new StoredChunks(store, image, m);
        int[] data = dataIndices(m);
        progress.total(data.length);
        Path part = file.resolveSibling(file.getFileName() + ".part");
        boolean done = false;
        try (RandomAccessFile raf = new RandomAccessFile(part.toFile(), "rw")) {
            raf.setLength(0);
            raf.setLength(m.size()); // ftruncate: sparse, every byte a hole until written
            FileChannel out = raf.getChannel();
            ByteBuffer zero = ByteBuffer.allocate(m.chunkSize());
            long[] written = new long[1];
            ChunkWorkers.run("pull", jobs, data.length, k -> {
                int i = data[k];
                ByteBuffer raw = chunks.raw(i);
                int stored = m.chunk(i).storedSize();
                if (raw.mismatch(zero.slice(0, raw.remaining())) >= 0) { // zeros stay a hole
                    long off = m.chunkOffset(i);
                    while (raw.hasRemaining()) off += out.write(raw, off);
                    synchronized (written) {
                        written[0] += m.chunkLength(i);
                    }
                }
                progress.chunkDone(stored, false);
            });
            out.force(true);
            Files.move(part, file, StandardCopyOption.ATOMIC_MOVE);
            done = true;
            return new Summary(image.display(), file, m.size(), data.length, written[0], progress.bytes(), System.nanoTime() - start);
        } finally {
            if (!done) Files.deleteIfExists(part);
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

package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@code image verify}: GETs every chunk (and boot file) the manifest names, in parallel, and checks each the way
 * a deployment will ({@link ChunkVerifier}, then the decoded length). Finds every bad or missing chunk, not only
 * the first: an operator repairing a store wants the whole list.
 */
public final class ImageVerifier {
    /** One chunk or boot file that is missing or wrong. {@code index} is -1 for a boot file. */
    public record Problem(int index, long offset, String name, String what) {}

    /** What a verify found: {@code storedBytes} fetched and hashed, {@code dataBytes} they decode to. */
    public record Result(String image, int chunks, int dataChunks, long storedBytes, long dataBytes, List<Problem> problems, long nanos) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private final StoreClient store;
    private final StoreLocation image;
    private final String pin;

    public ImageVerifier(StoreClient store, StoreLocation image) {
        this(store, image, null);
    }

    /**
     * {@code pin}: the manifest's expected {@link ManifestDigest} (null for none); any other manifest is refused
     * before a chunk is fetched. Without it, a manifest whose entries were swapped verifies: every chunk still
     * matches its name.
     */
    public ImageVerifier(StoreClient store, StoreLocation image, String pin) {
        this.store = store;
        this.image = image;
        this.pin = pin;
    }

    public Result verify(int jobs, TransferProgress progress) throws IOException {
        long start = System.nanoTime();
        Manifest m = store.readManifest(image, pin).manifest();
        StoredChunks chunks = new StoredChunks(store, image, m);
        int[] data = Puller.dataIndices(m);
        progress.total(data.length);
        List<Problem> problems = new ArrayList<>();
        long[] bytes = new long[2];
        ChunkWorkers.run("verify", jobs, data.length, k -> {
            int i = data[k];
            try {
                ByteBuffer raw = chunks.raw(i);
                synchronized (bytes) {
                    bytes[0] += m.chunk(i).storedSize();
                    bytes[1] += raw.remaining();
                }
            } catch (StoredChunks.BadChunk bad) {
                synchronized (problems) {
                    problems.add(new Problem(bad.index, bad.offset, bad.sha256, bad.getMessage()));
                }
            } // a StoreException (unreachable, refused) stops the verify: it says nothing about the chunk
            progress.chunkDone(m.chunk(i).storedSize(), false);
        });
        checkFile(m.kernel(), "kernel", problems);
        checkFile(m.initrd(), "initrd", problems);
        problems.sort(Comparator.comparingInt(Problem::index));
        return new Result(image.display(), m.chunkCount(), data.length, bytes[0], bytes[1], List.copyOf(problems), System.nanoTime() - start);
    }

    private void checkFile(Manifest.BootFile f, String what, List<Problem> problems) throws StoreException {
        if (f == null) return;
        ByteBuffer b = store.get(image.fileKey(f.sha256()));
        String problem = b == null ? "is missing from the store (no " + image.fileKey(f.sha256()) + ")"
                : b.remaining() != f.size() ? "is " + b.remaining() + " bytes in the store, but the manifest says " + f.size()
                : !Sha256.hex(b).equals(f.sha256()) ? "does not hash to its name" : null;
        if (problem != null) problems.add(new Problem(-1, -1, f.sha256(), "the " + what + " (" + f.sha256() + ") of " + image.display() + " " + problem));
    }
}

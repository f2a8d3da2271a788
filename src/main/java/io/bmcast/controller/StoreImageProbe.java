package io.bmcast.controller;

import io.bmcast.imagestore.ChunkVerifier;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.ManifestDigest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreException;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.util.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Reads an {@code s3://} image for {@code image add}: its metadata from the manifest (no NBD probe), its boot files
 * from the store (each checked against its SHA-256), and every chunk fetched and verified before the image is
 * accepted, so a manifest edited by hand, or a store that lost or spoiled a chunk, is refused with the chunk named
 * rather than found by a guest. The controller's own environment holds the store's credentials.
 */
final class StoreImageProbe {
    /** Chunks checked at once: enough to keep a store busy, few enough not to swamp it. */
    private static final int PARALLEL = 8;

    private StoreImageProbe() {}

    /**
     * What the store says about an image; {@code kernel}, {@code initrd} null when the manifest names none;
     * {@code manifestSha256} the digest of the manifest bytes whose chunks were verified (what the image pins).
     */
    record Probed(ImageProbe.Metadata metadata, Manifest manifest, String manifestSha256, byte[] kernel, byte[] initrd) {}

    static StoreLocation location(String uri) {
        try {
            return StoreLocation.parse(uri);
        } catch (IllegalArgumentException e) {
            throw ControllerException.invalid(e.getMessage());
        }
    }

    /** The manifest's metadata only (a launch in serialized mode re-reads it), refused unless it is the pinned one. */
    static ImageProbe.Metadata metadata(String uri, String pin) {
        StoreLocation at = location(uri);
        try (StoreClient c = StoreClient.open(at)) {
            return metadata(c.readManifest(at, pin).manifest());
        } catch (IOException e) {
            throw ControllerException.unprocessable("cannot read image " + at.display() + ": " + e.getMessage());
        }
    }

    private static ImageProbe.Metadata metadata(Manifest m) {
        List<long[]> data = m.dataExtents();
        long[] pairs = new long[data.size() * 2];
        long allocated = 0;
        for (int i = 0; i < data.size(); i++) {
            pairs[2 * i] = data.get(i)[0];
            pairs[2 * i + 1] = data.get(i)[1];
            allocated += data.get(i)[1];
        }
        return new ImageProbe.Metadata(m.size(), allocated, pairs);
    }

    /**
     * Reads and checks the whole image. {@code wantKernel}: fetch the manifest's boot files (false when the request
     * brought its own).
     */
    static Probed probe(String uri, boolean wantBootFiles) {
        StoreLocation at = location(uri);
        try (StoreClient c = StoreClient.open(at)) {
            // One GET: the digest is of the very bytes whose chunks are verified below, so no edit can slip between.
            ManifestDigest.Read read = c.readManifest(at, null);
            Manifest m = read.manifest();
            verifyChunks(c, at, m);
            byte[] kernel = null;
            byte[] initrd = null;
            if (wantBootFiles && m.kernel() != null) {
                kernel = bootFile(c, at, m.kernel(), "kernel");
                if (m.initrd() != null) initrd = bootFile(c, at, m.initrd(), "initrd");
            }
            return new Probed(metadata(m), m, read.sha256(), kernel, initrd);
        } catch (ControllerException e) {
            throw e;
        } catch (IOException e) {
            throw ControllerException.unprocessable("cannot read image " + at.display() + ": " + e.getMessage());
        }
    }

    private static byte[] bootFile(StoreClient c, StoreLocation at, Manifest.BootFile f, String what) throws IOException {
        ByteBuffer b = c.get(at.fileKey(f.sha256()));
        if (b == null) throw ControllerException.unprocessable("image " + at.display() + ": its " + what + " " + f.sha256() + " is missing from the store");
        if (b.remaining() != f.size() || !Sha256.hex(b).equals(f.sha256())) {
            throw ControllerException.unprocessable("image " + at.display() + ": its " + what + " in the store does not match the SHA-256 "
                    + f.sha256() + " the manifest names");
        }
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** Every chunk, several at a time; the first that is missing or does not verify refuses the image. */
    private static void verifyChunks(StoreClient c, StoreLocation at, Manifest m) throws IOException {
        try (ExecutorService pool = Executors.newFixedThreadPool(PARALLEL)) {
            List<Future<String>> checks = new ArrayList<>();
            for (int i = 0; i < m.chunkCount(); i++) {
                Manifest.Chunk chunk = m.chunk(i);
                if (chunk == null) continue;
                int index = i;
                checks.add(pool.submit(() -> {
                    String where = "chunk " + chunk.sha256() + " (chunk " + index + " at offset " + m.chunkOffset(index) + ") of " + at.display();
                    ByteBuffer b = c.get(at.chunkKey(chunk.sha256()));
                    if (b == null) return where + " is missing from the store";
                    if (!ChunkVerifier.verified(chunk, b)) return where + " does not match its SHA-256: the manifest was edited or the store holds other bytes";
                    return null;
                }));
            }
            for (Future<String> f : checks) {
                String problem;
                try {
                    problem = f.get();
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof StoreException se) throw se;
                    throw new IOException(e.getCause().getMessage(), e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while checking the chunks", e);
                }
                if (problem != null) {
                    pool.shutdownNow();
                    throw ControllerException.unprocessable("image refused: " + problem);
                }
            }
        }
    }
}

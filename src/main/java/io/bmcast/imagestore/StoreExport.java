package io.bmcast.imagestore;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.storage.FetchPriority;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An image in the store as a read-only block device: its size and holes ({@code base:allocation}) come from the
 * manifest, its bytes from chunks the {@link ChunkFetcher} verified and decoded. Nothing reaches a reader before
 * its chunk verified, so the mediator marks a region present only with verified bytes.
 *
 * <p>The mediator reads in regions (64 KiB) smaller than a chunk (1 MiB): the last few decoded chunks are kept in
 * memory ({@code decodedChunks}, bounded) so sixteen region reads do not fetch one chunk sixteen times, and a read
 * that spans several chunks fetches them at once, as do concurrent reads of different chunks.
 */
public final class StoreExport implements Export {
    /** 32 decoded chunks: 32 MiB at the default chunk size, enough for the hydrator's batches and the guest's reads. */
    public static final int DEFAULT_DECODED_CHUNKS = 32;

    private final String name;
    private final ChunkFetcher fetcher;
    private final Manifest manifest;
    private final Map<Integer, CompletableFuture<ByteBuffer>> decoded;
    private final ExecutorService parallel = Executors.newVirtualThreadPerTaskExecutor();

    public StoreExport(String name, ChunkFetcher fetcher) {
        this(name, fetcher, DEFAULT_DECODED_CHUNKS);
    }

    public StoreExport(String name, ChunkFetcher fetcher, int decodedChunks) {
        this.name = name;
        this.fetcher = fetcher;
        this.manifest = fetcher.manifest();
        int cap = Math.max(1, decodedChunks);
        this.decoded = new LinkedHashMap<>(cap * 2, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Integer, CompletableFuture<ByteBuffer>> eldest) {
                return size() > cap;
            }
        };
    }

    public ChunkFetcher fetcher() {
        return fetcher;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String description() {
        return fetcher.image();
    }

    @Override
    public long size() {
        return manifest.size();
    }

    @Override
    public boolean readOnly() {
        return true;
    }

    @Override
    public boolean canMultiConn() {
        return true;
    }

    @Override
    public int preferredBlockSize() {
        return 4096;
    }

    /** {@link #chunk(int)} on a thread of {@link #parallel}, with the priority of the reader it works for. */
    private CompletableFuture<ByteBuffer> chunk(int index, boolean background) {
        try {
            return FetchPriority.run(background, () -> chunk(index));
        } catch (Exception e) {
            throw new AssertionError("chunk() fails its future, it does not throw", e);
        }
    }

    /** The decoded chunk, fetched once however many readers want it at the same time. */
    private CompletableFuture<ByteBuffer> chunk(int index) {
        CompletableFuture<ByteBuffer> f;
        boolean mine = false;
        synchronized (decoded) {
            f = decoded.get(index);
            if (f == null || f.isCompletedExceptionally()) {
                f = new CompletableFuture<>();
                decoded.put(index, f);
                mine = true;
            }
        }
        if (mine) {
            CompletableFuture<ByteBuffer> out = f;
            try {
                out.complete(fetcher.decoded(index).asReadOnlyBuffer());
            } catch (Throwable t) {
                out.completeExceptionally(t);
                synchronized (decoded) {
                    decoded.remove(index, out); // a failure is not kept: the next read asks again
                }
            }
        }
        return f;
    }

    private ByteBuffer await(CompletableFuture<ByteBuffer> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading " + fetcher.image());
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) throw new NbdException(Nbd.EIO, io.getMessage(), io);
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new IOException(c);
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int first = (int) (offset / manifest.chunkSize());
        int last = (int) ((offset + dst.remaining() - 1) / manifest.chunkSize());
        List<CompletableFuture<ByteBuffer>> parts = new ArrayList<>(last - first + 1);
        boolean background = FetchPriority.isBackground(); // the other threads fetch with this reader's priority
        for (int i = first; i <= last; i++) {
            if (manifest.chunk(i) == null) {
                parts.add(null);
            } else if (i == first) {
                parts.add(null); // fetched below on this thread, after the others have started
            } else {
                int idx = i;
                parts.add(CompletableFuture.supplyAsync(() -> chunk(idx, background), parallel).thenCompose(f -> f));
            }
        }
        ByteBuffer firstChunk = manifest.chunk(first) == null ? null : await(chunk(first));
        long pos = offset;
        for (int i = first; i <= last; i++) {
            long chunkStart = manifest.chunkOffset(i);
            int from = (int) (pos - chunkStart);
            int n = (int) Math.min(dst.remaining(), manifest.chunkLength(i) - from);
            ByteBuffer src = i == first ? firstChunk : parts.get(i - first) == null ? null : await(parts.get(i - first));
            if (src == null) {
                for (int k = 0; k < n; k++) dst.put((byte) 0);
            } else {
                dst.put(src.duplicate().position(from).limit(from + n));
            }
            pos += n;
        }
    }

    /** A hint: fetches the chunks under the range in the background. */
    @Override
    public void cache(long offset, long length) {
        int first = (int) (offset / manifest.chunkSize());
        int last = (int) Math.min(manifest.chunkCount() - 1, (offset + Math.max(1, length) - 1) / manifest.chunkSize());
        for (int i = first; i <= last; i++) {
            if (manifest.chunk(i) == null) continue;
            int idx = i;
            parallel.submit(() -> chunk(idx));
        }
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) {
        manifest.describe(offset, length, sink);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, fetcher.image() + " is read-only");
    }

    @Override
    public void flush() {}

    @Override
    public boolean canFlush() {
        return false;
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, fetcher.image() + " is read-only");
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, fetcher.image() + " is read-only");
    }

    @Override
    public void close() throws IOException {
        parallel.shutdownNow();
        fetcher.close();
    }
}

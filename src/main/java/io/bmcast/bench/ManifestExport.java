package io.bmcast.bench;

import io.bmcast.imagestore.ChunkCodec;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.TreeFetcher;
import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A store image as a read-only export for a simulated node of {@code bench fanout}: each read takes the chunks it
 * covers from the node's {@link TreeFetcher} (verified there), decodes them, and copies the range; holes read as
 * zeros and are described as holes, so the mediator never fetches them.
 */
final class ManifestExport implements Export {
    private final Manifest manifest;
    private final TreeFetcher fetcher;

    ManifestExport(Manifest manifest, TreeFetcher fetcher) {
        this.manifest = manifest;
        this.fetcher = fetcher;
    }

    @Override
    public String name() {
        return "image";
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
    public void read(long offset, ByteBuffer dst) throws IOException {
        int cs = manifest.chunkSize();
        while (dst.hasRemaining()) {
            int index = (int) (offset / cs);
            int within = (int) (offset - (long) index * cs);
            int n = Math.min(dst.remaining(), manifest.chunkLength(index) - within);
            Manifest.Chunk c = manifest.chunk(index);
            if (c == null) {
                for (int i = 0; i < n; i++) dst.put((byte) 0);
            } else {
                ByteBuffer raw = ChunkCodec.decode(c, fetcher.fetch(c), manifest.chunkLength(index));
                dst.put(raw.slice(raw.position() + within, n));
            }
            offset += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, "the image is read-only");
    }

    @Override
    public void flush() {}

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, "the image is read-only");
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, "the image is read-only");
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) {
        int cs = manifest.chunkSize();
        long end = Math.min(manifest.size(), offset + length);
        long pos = offset;
        while (pos < end) {
            int index = (int) (pos / cs);
            boolean hole = manifest.chunk(index) == null;
            long runEnd = pos;
            while (runEnd < end && (manifest.chunk((int) (runEnd / cs)) == null) == hole) {
                runEnd = Math.min(end, ((runEnd / cs) + 1) * cs);
            }
            if (!sink.extent(runEnd - pos, hole ? Nbd.STATE_HOLE | Nbd.STATE_ZERO : 0)) return;
            pos = runEnd;
        }
    }
}

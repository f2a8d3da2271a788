package io.bmcast.bench;

import io.bmcast.imagestore.ChunkCodec;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.TreeFetcher;
import io.bmcast.storage.ReadOnlyExport;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A store image as a read-only export for a simulated node of {@code bench fanout}: each read takes the chunks it
 * covers from the node's {@link TreeFetcher} (verified there), decodes them, and copies the range; holes read as
 * zeros and are described as holes, so the mediator never fetches them.
 */
final class ManifestExport implements ReadOnlyExport {
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
    public void blockStatus(long offset, long length, ExtentSink sink) {
        manifest.describe(offset, length, sink);
    }
}

package io.bmcast.storage;

import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A filter that makes an export behave as if reached over an emulated link ({@link LinkEmulator}):
 * each request is held for its share of the link's rate plus the latency. Never completes quickly, so
 * the server hands its requests to workers and they wait concurrently.
 */
public final class LinkEmulatedExport extends FilterExport {
    private final LinkEmulator link;

    public LinkEmulatedExport(Export inner, LinkEmulator link) {
        super(inner);
        this.link = link;
    }

    private void hold(long bytes) throws IOException {
        link.hold(bytes);
    }


    @Override
    public boolean completesQuickly(long offset, long length) {
        return link.isIdentity() && inner.completesQuickly(offset, length);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        hold(dst.remaining());
        inner.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        hold(src.remaining());
        inner.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        hold(0);
        inner.flush();
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        hold(0);
        inner.trim(offset, length, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        hold(0);
        inner.writeZeroes(offset, length, noHole, fast, fua);
    }

    @Override
    public void cache(long offset, long length) throws IOException {
        hold(0);
        inner.cache(offset, length);
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        hold(0);
        inner.blockStatus(offset, length, sink);
    }
}

package io.bmcast.storage;

import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A layer over another export, in the manner of an nbdkit filter: every call goes to the inner export
 * unless the filter overrides it. Filters override only what they change (a delay, a count).
 */
// Export.sendableRange is deliberately not passed on: a filter must see every read it shapes.
public abstract class FilterExport implements Export {
    protected final Export inner;

    protected FilterExport(Export inner) {
        this.inner = inner;
    }

    @Override public String name() { return inner.name(); }
    @Override public String description() { return inner.description(); }
    @Override public long size() { return inner.size(); }
    @Override public boolean readOnly() { return inner.readOnly(); }
    @Override public boolean canTrim() { return inner.canTrim(); }
    @Override public boolean canWriteZeroes() { return inner.canWriteZeroes(); }
    @Override public boolean canFastZero() { return inner.canFastZero(); }
    @Override public boolean canFlush() { return inner.canFlush(); }
    @Override public boolean canCache() { return inner.canCache(); }
    @Override public boolean canMultiConn() { return inner.canMultiConn(); }
    @Override public int minimumBlockSize() { return inner.minimumBlockSize(); }
    @Override public int preferredBlockSize() { return inner.preferredBlockSize(); }

    @Override
    public boolean completesQuickly(long offset, long length) {
        return inner.completesQuickly(offset, length);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        inner.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        inner.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        inner.flush();
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        inner.trim(offset, length, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        inner.writeZeroes(offset, length, noHole, fast, fua);
    }

    @Override
    public void cache(long offset, long length) throws IOException {
        inner.cache(offset, length);
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        inner.blockStatus(offset, length, sink);
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}

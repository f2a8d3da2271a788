package io.bmcast.storage;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;

/** An export that is only ever read (an image source): every modifying call fails with EPERM. */
public interface ReadOnlyExport extends Export {
    @Override
    default boolean readOnly() {
        return true;
    }

    @Override
    default void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, "read-only");
    }

    @Override
    default void flush() {}

    @Override
    default void trim(long offset, long length, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, "read-only");
    }

    @Override
    default void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        throw new NbdException(Nbd.EPERM, "read-only");
    }
}

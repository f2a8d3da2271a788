package io.bmcast.transport;

import io.bmcast.protocol.NbdException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A block device that an NBD server exports: a file, a remote export, a mediated disk, or a filter
 * layered over another export (rate limit, latency), in the manner of nbdkit plugins and filters.
 *
 * <p>Exports are shared by every connection that opened them and must be safe for concurrent calls.
 * Offsets and lengths have been checked against {@link #size()} by the caller. Failures are thrown as
 * {@link NbdException} carrying the error to put on the wire; any other {@link IOException} is sent as EIO.
 */
public interface Export extends AutoCloseable {

    /** One extent of a block-status answer: {@code flags} are {@code Nbd.STATE_HOLE | Nbd.STATE_ZERO}. */
    @FunctionalInterface
    interface ExtentSink {
        /** Receives the next extent; returns false to stop early (the reply is full). */
        boolean extent(long length, int flags);
    }

    String name();

    default String description() {
        return "";
    }

    long size();

    boolean readOnly();

    default boolean canTrim() {
        return !readOnly();
    }

    default boolean canWriteZeroes() {
        return !readOnly();
    }

    default boolean canFastZero() {
        return false;
    }

    default boolean canFlush() {
        return !readOnly();
    }

    default boolean canCache() {
        return true;
    }

    /** True when several connections may use this export at once and see each other's flushed writes. */
    default boolean canMultiConn() {
        return true;
    }

    default int minimumBlockSize() {
        return 1;
    }

    default int preferredBlockSize() {
        return 4096;
    }

    /**
     * True when a request over this range will be served without waiting on the network, a lock held by
     * another request, or a deliberate delay (for example, data already on the local disk). The server may
     * then serve it on the connection's own reader thread instead of handing it to a worker.
     */
    default boolean completesQuickly(long offset, long length) {
        return false;
    }

    /**
     * The file that holds this export's bytes at {@code offset} for {@code length} bytes, at the same
     * offsets, so that a READ reply can go from it to the socket with {@code sendfile} (page cache to socket,
     * no copy through a user buffer); null when there is none, the default. An export answers null when its
     * bytes may come from elsewhere (the network, a region still being fetched) or are shaped on the way (a
     * rate or latency filter), since the server then never calls {@link #read}. The server only reads the
     * channel; a file shorter than the range is sent as {@link #read} would (zeros past its end).
     */
    default FileChannel sendableRange(long offset, long length) {
        return null;
    }

    /** Fills {@code dst} from position to limit with the bytes at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes {@code src} from position to limit at {@code offset}; durable before return when {@code fua}. */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    void flush() throws IOException;

    /** Discards a range (a hint: reads may return old data or zeros afterwards). */
    void trim(long offset, long length, boolean fua) throws IOException;

    /**
     * Makes a range read as zeros. {@code noHole}: the range must stay allocated. {@code fast}: fail with
     * {@code Nbd.ENOTSUP} rather than zero slowly.
     */
    void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException;

    /** Prefetches a range; a hint. */
    default void cache(long offset, long length) throws IOException {}

    /**
     * Describes {@code base:allocation} from {@code offset} for up to {@code length} bytes: extents in
     * order, contiguous, the first starting at {@code offset}. May describe less than asked, never more.
     */
    void blockStatus(long offset, long length, ExtentSink sink) throws IOException;

    @Override
    default void close() throws IOException {}
}

package io.bmcast.transport;

import java.nio.ByteBuffer;

/**
 * One transmission request in flight on a connection, from its header to its reply. A connection owns a
 * fixed set of these (their number bounds the requests in flight) and reuses them; each carries its own
 * reply header space and the two-buffer vector a reply is written from.
 */
final class Request {
    /** Room for the longest reply header we send: a structured chunk header plus 8 bytes. */
    static final int HEADER_SPACE = 32;

    final ByteBuffer header;
    final ByteBuffer[] iov = new ByteBuffer[2];
    int iovCount;

    long cookie;
    long offset;
    long length;
    int type;
    int flags;
    BufferPool.Buf data;
    /** A READ's payload source when it is sent with sendfile after the header, instead of from {@link #data}. */
    java.nio.channels.FileChannel file;
    int error;

    Request(ByteBuffer header) {
        this.header = header;
    }

    boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /** Bytes of the encoded reply, header included. */
    long replyBytes() {
        long n = 0;
        for (int i = 0; i < iovCount; i++) n += iov[i].remaining();
        return file != null ? n + length : n;
    }
}

package io.bmcast.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over a simple reply, server to client.
 *
 * <pre>
 * +---------------------------------------------------------------+
 * |                     magic 0x67446698                          |  0
 * +---------------------------------------------------------------+
 * |                     error (0 = success)                       |  4
 * +---------------------------------------------------------------+
 * |                     cookie (64 bits)                          |  8
 * +---------------------------------------------------------------+
 * </pre>
 * A successful reply to READ is followed by the data. No I/O, no allocation.
 */
public final class SimpleReplyHeader {
    public static final int LENGTH = 16;
    public static final int MAGIC_OFFSET = 0;
    public static final int ERROR_OFFSET = 4;
    public static final int COOKIE_OFFSET = 8;

    private ByteBuffer buffer;
    private int base;

    public SimpleReplyHeader wrap(ByteBuffer buffer, int base) {
        this.buffer = buffer;
        this.base = base;
        return this;
    }

    public int magic() {
        return buffer.getInt(base + MAGIC_OFFSET);
    }

    public SimpleReplyHeader magic(int value) {
        buffer.putInt(base + MAGIC_OFFSET, value);
        return this;
    }

    public int error() {
        return buffer.getInt(base + ERROR_OFFSET);
    }

    public SimpleReplyHeader error(int value) {
        buffer.putInt(base + ERROR_OFFSET, value);
        return this;
    }

    public long cookie() {
        return buffer.getLong(base + COOKIE_OFFSET);
    }

    public SimpleReplyHeader cookie(long value) {
        buffer.putLong(base + COOKIE_OFFSET, value);
        return this;
    }

    public SimpleReplyHeader set(int error, long cookie) {
        return magic(Nbd.SIMPLE_REPLY_MAGIC).error(error).cookie(cookie);
    }
}

package io.bmcast.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over a transmission request header (simple, not extended), client to server.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-------------------------------+-------------------------------+
 * |                     magic 0x25609513                          |  0
 * +-------------------------------+-------------------------------+
 * |        command flags          |             type              |  4
 * +-------------------------------+-------------------------------+
 * |                     cookie (64 bits)                          |  8
 * +---------------------------------------------------------------+
 * |                     offset (64 bits)                          | 16
 * +---------------------------------------------------------------+
 * |                     length (32 bits)                          | 24
 * +---------------------------------------------------------------+
 * </pre>
 * A WRITE is followed by {@code length} bytes of data. Accessors use absolute indexes and never move the
 * buffer's position; the codec does no I/O and allocates nothing.
 */
public final class RequestHeader {
    public static final int LENGTH = 28;
    public static final int MAGIC_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int TYPE_OFFSET = 6;
    public static final int COOKIE_OFFSET = 8;
    public static final int OFFSET_OFFSET = 16;
    public static final int LENGTH_OFFSET = 24;

    private ByteBuffer buffer;
    private int base;

    public RequestHeader wrap(ByteBuffer buffer, int base) {
        this.buffer = buffer;
        this.base = base;
        return this;
    }

    public int magic() {
        return buffer.getInt(base + MAGIC_OFFSET);
    }

    public RequestHeader magic(int value) {
        buffer.putInt(base + MAGIC_OFFSET, value);
        return this;
    }

    public int flags() {
        return buffer.getShort(base + FLAGS_OFFSET) & 0xffff;
    }

    public RequestHeader flags(int value) {
        buffer.putShort(base + FLAGS_OFFSET, (short) value);
        return this;
    }

    public int type() {
        return buffer.getShort(base + TYPE_OFFSET) & 0xffff;
    }

    public RequestHeader type(int value) {
        buffer.putShort(base + TYPE_OFFSET, (short) value);
        return this;
    }

    public long cookie() {
        return buffer.getLong(base + COOKIE_OFFSET);
    }

    public RequestHeader cookie(long value) {
        buffer.putLong(base + COOKIE_OFFSET, value);
        return this;
    }

    /** The offset as sent: an unsigned 64-bit value, negative here when it exceeds Long.MAX_VALUE. */
    public long offset() {
        return buffer.getLong(base + OFFSET_OFFSET);
    }

    public RequestHeader offset(long value) {
        buffer.putLong(base + OFFSET_OFFSET, value);
        return this;
    }

    /** The length as sent, unsigned: 0 to 2^32-1. */
    public long length() {
        return buffer.getInt(base + LENGTH_OFFSET) & 0xffffffffL;
    }

    public RequestHeader length(long value) {
        buffer.putInt(base + LENGTH_OFFSET, (int) value);
        return this;
    }

    /** Writes a whole header in one call. */
    public RequestHeader set(int flags, int type, long cookie, long offset, long length) {
        return magic(Nbd.REQUEST_MAGIC).flags(flags).type(type).cookie(cookie).offset(offset).length(length);
    }
}

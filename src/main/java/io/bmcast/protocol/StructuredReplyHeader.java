package io.bmcast.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over a structured reply chunk header, server to client.
 *
 * <pre>
 * +-------------------------------+-------------------------------+
 * |                     magic 0x668e33ef                          |  0
 * +-------------------------------+-------------------------------+
 * |        flags (DONE = 1)       |          chunk type           |  4
 * +-------------------------------+-------------------------------+
 * |                     cookie (64 bits)                          |  8
 * +---------------------------------------------------------------+
 * |                     payload length                            | 16
 * +---------------------------------------------------------------+
 * </pre>
 * Payloads by type: OFFSET_DATA = u64 offset + data; OFFSET_HOLE = u64 offset + u32 length;
 * BLOCK_STATUS = u32 context id + (u32 length, u32 flags)*; ERROR = u32 error + u16 message length +
 * message; ERROR_OFFSET = the same + u64 offset. No I/O, no allocation.
 */
public final class StructuredReplyHeader {
    public static final int LENGTH = 20;
    public static final int MAGIC_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int TYPE_OFFSET = 6;
    public static final int COOKIE_OFFSET = 8;
    public static final int PAYLOAD_LENGTH_OFFSET = 16;

    private ByteBuffer buffer;
    private int base;

    public StructuredReplyHeader wrap(ByteBuffer buffer, int base) {
        this.buffer = buffer;
        this.base = base;
        return this;
    }

    public int magic() {
        return buffer.getInt(base + MAGIC_OFFSET);
    }

    public StructuredReplyHeader magic(int value) {
        buffer.putInt(base + MAGIC_OFFSET, value);
        return this;
    }

    public int flags() {
        return buffer.getShort(base + FLAGS_OFFSET) & 0xffff;
    }

    public StructuredReplyHeader flags(int value) {
        buffer.putShort(base + FLAGS_OFFSET, (short) value);
        return this;
    }

    public int type() {
        return buffer.getShort(base + TYPE_OFFSET) & 0xffff;
    }

    public StructuredReplyHeader type(int value) {
        buffer.putShort(base + TYPE_OFFSET, (short) value);
        return this;
    }

    public long cookie() {
        return buffer.getLong(base + COOKIE_OFFSET);
    }

    public StructuredReplyHeader cookie(long value) {
        buffer.putLong(base + COOKIE_OFFSET, value);
        return this;
    }

    /** Payload length, unsigned. */
    public long payloadLength() {
        return buffer.getInt(base + PAYLOAD_LENGTH_OFFSET) & 0xffffffffL;
    }

    public StructuredReplyHeader payloadLength(long value) {
        buffer.putInt(base + PAYLOAD_LENGTH_OFFSET, (int) value);
        return this;
    }

    public StructuredReplyHeader set(int flags, int type, long cookie, long payloadLength) {
        return magic(Nbd.STRUCTURED_REPLY_MAGIC).flags(flags).type(type).cookie(cookie).payloadLength(payloadLength);
    }

    public boolean done() {
        return (flags() & Nbd.REPLY_FLAG_DONE) != 0;
    }

    public static boolean isError(int type) {
        return (type & (1 << 15)) != 0;
    }
}

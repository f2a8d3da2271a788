package io.bmcast.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over an option reply header, server to client.
 *
 * <pre>
 * +---------------------------------------------------------------+
 * |                     magic 0x3e889045565a9 (64 bits)           |  0
 * +---------------------------------------------------------------+
 * |                     option (echoed)                           |  8
 * +---------------------------------------------------------------+
 * |                     reply type (bit 31 set = error)           | 12
 * +---------------------------------------------------------------+
 * |                     payload length                            | 16
 * +---------------------------------------------------------------+
 * </pre>
 */
public final class OptionReplyHeader {
    public static final int LENGTH = 20;
    public static final int MAGIC_OFFSET = 0;
    public static final int OPTION_OFFSET = 8;
    public static final int TYPE_OFFSET = 12;
    public static final int PAYLOAD_LENGTH_OFFSET = 16;

    private ByteBuffer buffer;
    private int base;

    public OptionReplyHeader wrap(ByteBuffer buffer, int base) {
        this.buffer = buffer;
        this.base = base;
        return this;
    }

    public long magic() {
        return buffer.getLong(base + MAGIC_OFFSET);
    }

    public OptionReplyHeader magic(long value) {
        buffer.putLong(base + MAGIC_OFFSET, value);
        return this;
    }

    public int option() {
        return buffer.getInt(base + OPTION_OFFSET);
    }

    public OptionReplyHeader option(int value) {
        buffer.putInt(base + OPTION_OFFSET, value);
        return this;
    }

    public int type() {
        return buffer.getInt(base + TYPE_OFFSET);
    }

    public OptionReplyHeader type(int value) {
        buffer.putInt(base + TYPE_OFFSET, value);
        return this;
    }

    public long payloadLength() {
        return buffer.getInt(base + PAYLOAD_LENGTH_OFFSET) & 0xffffffffL;
    }

    public OptionReplyHeader payloadLength(long value) {
        buffer.putInt(base + PAYLOAD_LENGTH_OFFSET, (int) value);
        return this;
    }

    public OptionReplyHeader set(int option, int type, long payloadLength) {
        return magic(Nbd.OPTION_REPLY_MAGIC).option(option).type(type).payloadLength(payloadLength);
    }

    public static boolean isError(int type) {
        return (type & Nbd.REP_FLAG_ERROR) != 0;
    }
}

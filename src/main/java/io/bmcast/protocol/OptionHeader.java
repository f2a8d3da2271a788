package io.bmcast.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over an option request header of the fixed newstyle handshake, client to server.
 *
 * <pre>
 * +---------------------------------------------------------------+
 * |                     magic "IHAVEOPT" (64 bits)                |  0
 * +---------------------------------------------------------------+
 * |                     option                                    |  8
 * +---------------------------------------------------------------+
 * |                     payload length                            | 12
 * +---------------------------------------------------------------+
 * </pre>
 */
public final class OptionHeader {
    public static final int LENGTH = 16;
    public static final int MAGIC_OFFSET = 0;
    public static final int OPTION_OFFSET = 8;
    public static final int PAYLOAD_LENGTH_OFFSET = 12;

    private ByteBuffer buffer;
    private int base;

    public OptionHeader wrap(ByteBuffer buffer, int base) {
        this.buffer = buffer;
        this.base = base;
        return this;
    }

    public long magic() {
        return buffer.getLong(base + MAGIC_OFFSET);
    }

    public OptionHeader magic(long value) {
        buffer.putLong(base + MAGIC_OFFSET, value);
        return this;
    }

    public int option() {
        return buffer.getInt(base + OPTION_OFFSET);
    }

    public OptionHeader option(int value) {
        buffer.putInt(base + OPTION_OFFSET, value);
        return this;
    }

    public long payloadLength() {
        return buffer.getInt(base + PAYLOAD_LENGTH_OFFSET) & 0xffffffffL;
    }

    public OptionHeader payloadLength(long value) {
        buffer.putInt(base + PAYLOAD_LENGTH_OFFSET, (int) value);
        return this;
    }

    public OptionHeader set(int option, long payloadLength) {
        return magic(Nbd.IHAVEOPT).option(option).payloadLength(payloadLength);
    }
}

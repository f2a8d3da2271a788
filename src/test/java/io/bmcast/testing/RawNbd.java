package io.bmcast.testing;

import io.bmcast.protocol.Nbd;
import java.io.EOFException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A deliberately bare NBD peer for tests: sends exactly the bytes a test asks for (well-formed or not)
 * and reads replies field by field. Not a client library; the product's client lives elsewhere.
 */
public final class RawNbd implements AutoCloseable {
    public final SocketChannel ch;

    /** An option reply as received. */
    public record OptionReply(int option, int type, byte[] payload) {}

    /** A reply to a request: simple, or one structured chunk. */
    public record Reply(boolean structured, int flags, int type, long cookie, int error, byte[] payload) {}

    public RawNbd(Path socket) throws IOException {
        ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    }

    /** Reads the greeting and sends client flags (fixed newstyle + no zeroes). */
    public RawNbd greet() throws IOException {
        ByteBuffer g = read(18);
        if (g.getLong(0) != Nbd.NBDMAGIC || g.getLong(8) != Nbd.IHAVEOPT) throw new IOException("bad greeting");
        write(ByteBuffer.allocate(4).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).flip());
        return this;
    }

    public void option(int option, byte[] payload) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + payload.length);
        b.putLong(Nbd.IHAVEOPT).putInt(option).putInt(payload.length).put(payload).flip();
        write(b);
    }

    public OptionReply optionReply() throws IOException {
        ByteBuffer h = read(20);
        if (h.getLong(0) != Nbd.OPTION_REPLY_MAGIC) throw new IOException("bad option reply magic");
        int len = h.getInt(16);
        if (len < 0 || len > 1 << 20) throw new IOException("option reply too long");
        return new OptionReply(h.getInt(8), h.getInt(12), read(len).array());
    }

    /** STRUCTURED_REPLY (when asked), SET_META_CONTEXT base:allocation (when asked), then GO. */
    public RawNbd go(String export, boolean structured, boolean blockStatus) throws IOException {
        if (structured) {
            option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            expect(optionReply(), Nbd.REP_ACK);
        }
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        if (blockStatus) {
            byte[] q = Nbd.META_BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
            ByteBuffer p = ByteBuffer.allocate(4 + name.length + 4 + 4 + q.length);
            p.putInt(name.length).put(name).putInt(1).putInt(q.length).put(q);
            option(Nbd.OPT_SET_META_CONTEXT, p.array());
            expect(optionReply(), Nbd.REP_META_CONTEXT);
            expect(optionReply(), Nbd.REP_ACK);
        }
        ByteBuffer p = ByteBuffer.allocate(4 + name.length + 2);
        p.putInt(name.length).put(name).putShort((short) 0);
        option(Nbd.OPT_GO, p.array());
        OptionReply r;
        while ((r = optionReply()).type() == Nbd.REP_INFO) {
            // skip
        }
        expect(r, Nbd.REP_ACK);
        return this;
    }

    private static void expect(OptionReply r, int type) throws IOException {
        if (r.type() != type) throw new IOException("option reply type " + Integer.toHexString(r.type()) + ", expected " + type);
    }

    public void request(int flags, int type, long cookie, long offset, long length, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(28 + (data == null ? 0 : data.length));
        b.putInt(Nbd.REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putLong(offset).putInt((int) length);
        if (data != null) b.put(data);
        write(b.flip());
    }

    /** Reads a reply; {@code readLength} is the data length when it is a simple reply to a READ. */
    public Reply reply(int readLength) throws IOException {
        ByteBuffer m = read(4);
        int magic = m.getInt(0);
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            ByteBuffer h = read(12);
            int error = h.getInt(0);
            byte[] data = error == 0 && readLength > 0 ? read(readLength).array() : new byte[0];
            return new Reply(false, 0, 0, h.getLong(4), error, data);
        }
        if (magic != Nbd.STRUCTURED_REPLY_MAGIC) throw new IOException(String.format("bad reply magic %08x", magic));
        ByteBuffer h = read(16);
        int flags = h.getShort(0) & 0xffff;
        int type = h.getShort(2) & 0xffff;
        long cookie = h.getLong(4);
        int len = h.getInt(12);
        byte[] payload = read(len).array();
        int error = (type & 0x8000) != 0 ? ByteBuffer.wrap(payload).getInt(0) : 0;
        return new Reply(true, flags, type, cookie, error, payload);
    }

    public void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    public ByteBuffer read(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) throw new EOFException("server closed after " + b.position() + " of " + n + " bytes");
        }
        return b.flip();
    }

    /** True when the server has closed the connection (reads EOF), waiting up to the socket's data. */
    public boolean closedByServer() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096);
        try {
            while (true) {
                int n = ch.read(b.clear());
                if (n < 0) return true;
            }
        } catch (IOException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}

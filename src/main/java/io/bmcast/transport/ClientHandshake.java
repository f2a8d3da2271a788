package io.bmcast.transport;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.OptionHeader;
import io.bmcast.protocol.OptionReplyHeader;
import io.bmcast.protocol.ProtocolException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The client side of the fixed newstyle handshake, blocking, on a freshly connected channel.
 *
 * <p>{@link #negotiate} asks, in order: STRUCTURED_REPLY; SET_META_CONTEXT {@code base:allocation} (only
 * with structured replies); GO with INFO_BLOCK_SIZE and INFO_DESCRIPTION. A server that does not know GO
 * (NBD_REP_ERR_UNSUP) gets EXPORT_NAME instead; a server that is not even fixed newstyle gets only
 * EXPORT_NAME. Every length the server sends is checked before anything is sized from it.
 *
 * <p>With {@link TlsCredentials}, STARTTLS comes first and everything else goes inside TLS; a server that
 * refuses STARTTLS, or whose certificate does not verify, fails the handshake: there is no fallback to
 * plaintext.
 */
final class ClientHandshake {
    private static final long OLDSTYLE_MAGIC = 0x00420281861253L;

    /** One export named by OPT_LIST. */
    record Listed(String name, String description) {}

    private final SocketChannel ch;
    private final TlsCredentials tlsCredentials;
    private final Endpoint endpoint;
    // The plain channel, then the TLS channel once STARTTLS is done.
    private ReadableByteChannel in;
    private GatheringByteChannel out;
    private TlsChannel tls;
    private final ByteBuffer header = ByteBuffer.allocate(OptionReplyHeader.LENGTH);
    private final OptionReplyHeader reply = new OptionReplyHeader().wrap(header, 0);
    private boolean fixedNewstyle;
    private boolean noZeroes;
    private ByteBuffer payload = ByteBuffer.allocate(1024);

    ClientHandshake(SocketChannel ch) {
        this(ch, null, null);
    }

    /** {@code tls}: the credentials to require TLS with (null: plaintext); {@code endpoint}: the host name to check. */
    ClientHandshake(SocketChannel ch, TlsCredentials tls, Endpoint endpoint) {
        this.ch = ch;
        this.in = ch;
        this.out = ch;
        this.tlsCredentials = tls;
        this.endpoint = endpoint;
    }

    /** The TLS channel the session continues on, or null for plaintext. */
    TlsChannel tls() {
        return tls;
    }

    /** Reads the greeting and sends the client flags. */
    void greet() throws IOException {
        ByteBuffer g = ByteBuffer.allocate(18);
        readFully(g, "greeting");
        long magic = g.getLong(0);
        if (magic != Nbd.NBDMAGIC) throw new ProtocolException(String.format("bad greeting magic 0x%016x (not an NBD server?)", magic));
        long style = g.getLong(8);
        if (style == OLDSTYLE_MAGIC) throw new ProtocolException("server speaks the oldstyle handshake, which is not supported");
        if (style != Nbd.IHAVEOPT) throw new ProtocolException(String.format("bad newstyle magic 0x%016x", style));
        int serverFlags = g.getShort(16) & 0xffff;
        fixedNewstyle = (serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) != 0;
        noZeroes = (serverFlags & Nbd.FLAG_NO_ZEROES) != 0;
        int clientFlags = (fixedNewstyle ? Nbd.FLAG_C_FIXED_NEWSTYLE : 0) | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0);
        writeFully(ByteBuffer.allocate(4).putInt(0, clientFlags));
        if (tlsCredentials != null) startTls();
    }

    private void startTls() throws IOException {
        if (!fixedNewstyle) throw new ProtocolException("server " + endpoint + " is not fixed newstyle, so it cannot do TLS");
        sendOption(Nbd.OPT_STARTTLS, ByteBuffer.allocate(0));
        int type = readReply(Nbd.OPT_STARTTLS);
        if (type != Nbd.REP_ACK) {
            if (OptionReplyHeader.isError(type)) {
                throw new NbdOptionException(Nbd.OPT_STARTTLS, type, "server " + endpoint + " does not offer TLS ("
                        + NbdOptionException.replyName(type) + " to STARTTLS); not falling back to plaintext");
            }
            throw new ProtocolException(String.format("unexpected reply 0x%08x to STARTTLS", type));
        }
        tls = TlsChannel.handshake(ch, tlsCredentials.clientEngine(endpoint), "server " + endpoint,
                tlsCredentials.dir().resolve("ca-cert.pem").toString());
        in = tls;
        out = tls;
    }

    ExportInfo negotiate(String exportName) throws IOException {
        byte[] name = checkedString(exportName, "export name");
        greet();
        if (!fixedNewstyle) return exportName(exportName, name, false, -1);

        boolean structured = simpleOption(Nbd.OPT_STRUCTURED_REPLY);
        long context = structured ? setMetaContext(name) : -1;
        ExportInfo info = go(exportName, name, structured, context);
        return info != null ? info : exportName(exportName, name, structured, context);
    }

    List<Listed> list() throws IOException {
        greet();
        if (!fixedNewstyle) throw new ProtocolException("server is not fixed newstyle: cannot list exports");
        sendOption(Nbd.OPT_LIST, ByteBuffer.allocate(0));
        List<Listed> out = new ArrayList<>();
        while (true) {
            int type = readReply(Nbd.OPT_LIST);
            if (type == Nbd.REP_ACK) break;
            if (OptionReplyHeader.isError(type)) throw refused(Nbd.OPT_LIST, type, "list exports");
            if (type != Nbd.REP_SERVER) throw new ProtocolException(String.format("unexpected reply 0x%08x to OPT_LIST", type));
            if (payload.remaining() < 4) throw new ProtocolException("NBD_REP_SERVER too short");
            int len = payload.getInt();
            if (len < 0 || len > payload.remaining()) throw new ProtocolException("NBD_REP_SERVER name length " + len + " exceeds payload");
            String n = string(len);
            String desc = string(payload.remaining());
            out.add(new Listed(n, desc));
        }
        abort();
        return out;
    }

    /** Politely ends the handshake (after list). */
    void abort() throws IOException {
        sendOption(Nbd.OPT_ABORT, ByteBuffer.allocate(0));
        // The server may answer with an ACK or just close; either is fine.
    }

    /** Sends an option without payload; true on ACK, false on an error reply. */
    private boolean simpleOption(int option) throws IOException {
        sendOption(option, ByteBuffer.allocate(0));
        int type = readReply(option);
        if (type == Nbd.REP_ACK) return true;
        if (OptionReplyHeader.isError(type)) return false;
        throw new ProtocolException(String.format("unexpected reply 0x%08x to option %d", type, option));
    }

    private long setMetaContext(byte[] name) throws IOException {
        byte[] ctx = Nbd.META_BASE_ALLOCATION.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer p = ByteBuffer.allocate(4 + name.length + 4 + 4 + ctx.length);
        p.putInt(name.length).put(name).putInt(1).putInt(ctx.length).put(ctx).flip();
        sendOption(Nbd.OPT_SET_META_CONTEXT, p);
        long id = -1;
        while (true) {
            int type = readReply(Nbd.OPT_SET_META_CONTEXT);
            if (type == Nbd.REP_ACK) return id;
            if (OptionReplyHeader.isError(type)) return -1;
            if (type != Nbd.REP_META_CONTEXT) throw new ProtocolException(String.format("unexpected reply 0x%08x to SET_META_CONTEXT", type));
            if (payload.remaining() < 4) throw new ProtocolException("NBD_REP_META_CONTEXT too short");
            long cid = payload.getInt() & 0xffffffffL;
            String cname = string(payload.remaining());
            if (!cname.equals(Nbd.META_BASE_ALLOCATION)) throw new ProtocolException("server chose meta context '" + cname + "' that was not asked for");
            id = cid;
        }
    }

    /** OPT_GO; null when the server does not support it. */
    private ExportInfo go(String exportName, byte[] name, boolean structured, long context) throws IOException {
        ByteBuffer p = ByteBuffer.allocate(4 + name.length + 2 + 4);
        p.putInt(name.length).put(name).putShort((short) 2).putShort((short) Nbd.INFO_BLOCK_SIZE).putShort((short) Nbd.INFO_DESCRIPTION).flip();
        sendOption(Nbd.OPT_GO, p);
        long size = -1;
        int flags = 0;
        int min = 1, pref = 4096, max = Nbd.MAX_PAYLOAD;
        String description = "";
        while (true) {
            int type = readReply(Nbd.OPT_GO);
            if (type == Nbd.REP_ACK) {
                if (size < 0) throw new ProtocolException("server finished OPT_GO without NBD_INFO_EXPORT");
                return new ExportInfo(exportName, size, flags, min, pref, max, description, structured, context);
            }
            if (type == Nbd.REP_ERR_UNSUP) return null;
            if (OptionReplyHeader.isError(type)) throw refused(Nbd.OPT_GO, type, "export '" + exportName + "'");
            if (type != Nbd.REP_INFO) throw new ProtocolException(String.format("unexpected reply 0x%08x to OPT_GO", type));
            if (payload.remaining() < 2) throw new ProtocolException("NBD_REP_INFO too short");
            int info = payload.getShort() & 0xffff;
            switch (info) {
                case Nbd.INFO_EXPORT -> {
                    if (payload.remaining() != 10) throw new ProtocolException("NBD_INFO_EXPORT has " + (payload.remaining() + 2) + " bytes, expected 12");
                    size = checkSize(payload.getLong());
                    flags = checkFlags(payload.getShort() & 0xffff);
                }
                case Nbd.INFO_BLOCK_SIZE -> {
                    if (payload.remaining() != 12) throw new ProtocolException("NBD_INFO_BLOCK_SIZE has " + (payload.remaining() + 2) + " bytes, expected 14");
                    min = payload.getInt();
                    pref = payload.getInt();
                    int maxRaw = payload.getInt();
                    if (min < 1 || min > 65536 || Integer.bitCount(min) != 1) throw new ProtocolException("bad minimum block size " + min);
                    if (pref < Math.max(min, 512) || Integer.bitCount(pref) != 1) throw new ProtocolException("bad preferred block size " + pref);
                    long maxU = maxRaw & 0xffffffffL;
                    if (maxU < min || (maxU != 0xffffffffL && maxU % min != 0)) throw new ProtocolException("bad maximum block size " + maxU);
                    max = (int) Math.min(maxU, Nbd.MAX_PAYLOAD);
                    max -= max % min;
                }
                case Nbd.INFO_DESCRIPTION -> description = string(payload.remaining());
                default -> { /* INFO_NAME and anything newer: not needed */ }
            }
        }
    }

    private ExportInfo exportName(String exportName, byte[] name, boolean structured, long context) throws IOException {
        sendOption(Nbd.OPT_EXPORT_NAME, ByteBuffer.wrap(name));
        ByteBuffer r = ByteBuffer.allocate(noZeroes ? 10 : 134);
        try {
            readFully(r, "export info");
        } catch (EOFException e) {
            throw new NbdOptionException(Nbd.OPT_EXPORT_NAME, Nbd.REP_ERR_UNKNOWN, "server closed the connection on export '" + exportName + "' (unknown export?)");
        }
        long size = checkSize(r.getLong(0));
        int flags = checkFlags(r.getShort(8) & 0xffff);
        return new ExportInfo(exportName, size, flags, 1, 4096, Nbd.MAX_PAYLOAD, "", structured, context);
    }

    private static long checkSize(long size) throws ProtocolException {
        if (size < 0) throw new ProtocolException("export size " + Long.toUnsignedString(size) + " too large");
        return size;
    }

    private static int checkFlags(int flags) throws ProtocolException {
        if ((flags & Nbd.FLAG_HAS_FLAGS) == 0) throw new ProtocolException(String.format("transmission flags 0x%04x lack NBD_FLAG_HAS_FLAGS", flags));
        return flags;
    }

    private NbdOptionException refused(int option, int type, String what) {
        if (type == Nbd.REP_ERR_TLS_REQD) {
            return new NbdOptionException(option, type, "server requires TLS for " + what + ": use an nbds:// URI with --tls-dir DIR");
        }
        String msg = payload.hasRemaining() ? ": " + new String(payload.array(), payload.position(), payload.remaining(), StandardCharsets.UTF_8) : "";
        return new NbdOptionException(option, type, "server refused " + what + " (" + NbdOptionException.replyName(type) + ")" + msg);
    }

    private void sendOption(int option, ByteBuffer data) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(OptionHeader.LENGTH);
        new OptionHeader().wrap(h, 0).set(option, data.remaining());
        writeFully(h);
        writeFully(data);
    }

    /** Reads one option reply: checks magic and echoed option, leaves its payload in {@link #payload}. */
    private int readReply(int option) throws IOException {
        header.clear();
        readFully(header, "option reply");
        if (reply.magic() != Nbd.OPTION_REPLY_MAGIC) throw new ProtocolException(String.format("bad option reply magic 0x%016x", reply.magic()));
        if (reply.option() != option) throw new ProtocolException("reply for option " + reply.option() + " while waiting for option " + option);
        long len = reply.payloadLength();
        if (len > Nbd.MAX_OPTION_LENGTH) throw new ProtocolException("option reply payload of " + len + " bytes is too large");
        if (payload.capacity() < len) payload = ByteBuffer.allocate((int) len);
        payload.clear().limit((int) len);
        readFully(payload, "option reply payload");
        return reply.type();
    }

    private String string(int len) throws ProtocolException {
        if (len > Nbd.MAX_STRING || len > payload.remaining()) throw new ProtocolException("string of " + len + " bytes is too long");
        String s = new String(payload.array(), payload.position(), len, StandardCharsets.UTF_8);
        payload.position(payload.position() + len);
        return s;
    }

    private static byte[] checkedString(String s, String what) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > Nbd.MAX_STRING) throw new IllegalArgumentException(what + " longer than " + Nbd.MAX_STRING + " bytes");
        return b;
    }

    private void readFully(ByteBuffer b, String what) throws IOException {
        while (b.hasRemaining()) {
            if (in.read(b) < 0) throw new EOFException("server closed the connection during the handshake (" + what + ")");
        }
        b.flip();
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }
}

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
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The server side of the fixed newstyle handshake: greets, then answers options until the client picks
 * an export (GO or EXPORT_NAME) or leaves (ABORT). Every length the client sends is checked against
 * {@link Nbd#MAX_OPTION_LENGTH} or the payload it arrived in before anything is sized from it.
 *
 * <p>Reads exactly the bytes each step needs, never more, so the transmission phase starts on a
 * request boundary (and a TLS handshake on the byte after STARTTLS).
 *
 * <p>TLS: on a server with {@link TlsCredentials}, STARTTLS switches the connection to TLS and the options
 * start afresh inside it (what was negotiated before is forgotten, as the spec asks). Until then every
 * option but STARTTLS and ABORT is answered NBD_REP_ERR_TLS_REQD, and EXPORT_NAME, which cannot be
 * refused politely, drops the client: nothing is listed or served in plaintext.
 */
final class ServerHandshake {
    /** What the handshake settled: the export and the features negotiated for it. */
    record Session(String name, Export export, boolean structured, int metaContextId, boolean noZeroes) {}

    /** The context id we hand out for {@code base:allocation}. */
    static final int BASE_ALLOCATION_ID = 1;
    /** More options than this on one connection is a client looping: disconnect it. */
    static final int MAX_OPTIONS = 1024;
    /** An option longer than {@link Nbd#MAX_OPTION_LENGTH} but at most this is read and refused; longer: disconnect. */
    static final long MAX_SKIPPED_OPTION_LENGTH = 1 << 20;
    /** Option payloads are read into a buffer of this size first, grown as bytes actually arrive. */
    private static final int FIRST_PAYLOAD_CHUNK = 4096;

    private final SocketChannel ch;
    private final NbdServer server;
    // The plain channel, then the TLS channel once STARTTLS is done.
    private ReadableByteChannel in;
    private GatheringByteChannel out;
    private TlsChannel tls;
    private final ByteBuffer small = ByteBuffer.allocate(OptionReplyHeader.LENGTH + 64);
    private final OptionHeader optionHeader = new OptionHeader();
    private final OptionReplyHeader replyHeader = new OptionReplyHeader();
    private boolean structured;
    private boolean noZeroes;
    private String metaExport; // export named in the last SET_META_CONTEXT
    private boolean metaAllocation; // base:allocation was selected by it

    ServerHandshake(SocketChannel ch, NbdServer server) {
        this.ch = ch;
        this.server = server;
        this.in = ch;
        this.out = ch;
    }

    /** The TLS channel the session continues on, or null for plaintext. */
    TlsChannel tls() {
        return tls;
    }

    /** Runs the handshake: the session, or null when the client aborted. */
    Session run() throws IOException {
        ByteBuffer greet = ByteBuffer.allocate(18);
        greet.putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip();
        writeFully(greet);
        int clientFlags = readInt();
        if ((clientFlags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
            throw new ProtocolException(String.format("unknown client flags 0x%x", clientFlags));
        }
        if ((clientFlags & Nbd.FLAG_C_FIXED_NEWSTYLE) == 0) {
            throw new ProtocolException("client does not speak fixed newstyle");
        }
        noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;

        ByteBuffer hb = ByteBuffer.allocate(OptionHeader.LENGTH);
        optionHeader.wrap(hb, 0);
        for (int count = 0; ; count++) {
            if (count >= MAX_OPTIONS) throw new ProtocolException("more than " + MAX_OPTIONS + " options");
            hb.clear();
            readFully(hb);
            if (optionHeader.magic() != Nbd.IHAVEOPT) {
                throw new ProtocolException(String.format("bad option magic 0x%016x", optionHeader.magic()));
            }
            int option = optionHeader.option();
            long length = optionHeader.payloadLength();
            if (length > Nbd.MAX_OPTION_LENGTH) {
                if (option == Nbd.OPT_EXPORT_NAME) throw new ProtocolException("export name of " + length + " bytes");
                if (length > MAX_SKIPPED_OPTION_LENGTH) {
                    // The spec lets us answer TOO_BIG and hang up rather than read megabytes of nothing.
                    replyError(option, Nbd.REP_ERR_TOO_BIG, "option payload of " + length + " bytes is too big");
                    throw new ProtocolException("option " + option + " announced " + length + " bytes of payload");
                }
                skip(length);
                replyError(option, Nbd.REP_ERR_TOO_BIG, "option payload of " + length + " bytes is too big");
                continue;
            }
            ByteBuffer payload = readPayload((int) length);
            if (server.tls() != null && tls == null && option != Nbd.OPT_STARTTLS && option != Nbd.OPT_ABORT) {
                if (option == Nbd.OPT_EXPORT_NAME) throw new ProtocolException("EXPORT_NAME in plaintext on a server that requires TLS");
                replyError(option, Nbd.REP_ERR_TLS_REQD, "this server requires TLS: send NBD_OPT_STARTTLS first");
                continue;
            }
            Session s = option(option, payload);
            if (s == ABORTED) return null;
            if (s != null) return s;
        }
    }

    private static final Session ABORTED = new Session("", null, false, 0, false);

    private Session option(int option, ByteBuffer p) throws IOException {
        switch (option) {
            case Nbd.OPT_EXPORT_NAME -> {
                String name = utf8(p, p.remaining());
                Export e = name == null ? null : server.lookup(name);
                if (e == null) {
                    throw new ProtocolException(name == null ? "EXPORT_NAME is not UTF-8" : "EXPORT_NAME of unknown export '" + name + "'");
                }
                ByteBuffer r = ByteBuffer.allocate(noZeroes ? 10 : 134);
                r.putLong(e.size()).putShort((short) transmissionFlags(e, structured));
                r.position(r.capacity()).flip();
                writeFully(r);
                return session(name, e);
            }
            case Nbd.OPT_ABORT -> {
                try {
                    reply(option, Nbd.REP_ACK, null);
                } catch (IOException e) {
                    // The client may close without waiting for our ACK; either way it is gone.
                }
                return ABORTED;
            }
            case Nbd.OPT_LIST -> {
                if (p.hasRemaining()) return invalid(option, "LIST takes no data");
                for (var entry : server.namedExports().entrySet()) {
                    byte[] name = entry.getKey().getBytes(StandardCharsets.UTF_8);
                    byte[] desc = entry.getValue().description().getBytes(StandardCharsets.UTF_8);
                    ByteBuffer r = ByteBuffer.allocate(4 + name.length + desc.length);
                    r.putInt(name.length).put(name).put(desc).flip();
                    reply(option, Nbd.REP_SERVER, r);
                }
                reply(option, Nbd.REP_ACK, null);
                return null;
            }
            case Nbd.OPT_INFO, Nbd.OPT_GO -> {
                return infoOrGo(option, p);
            }
            case Nbd.OPT_STRUCTURED_REPLY -> {
                if (p.hasRemaining()) return invalid(option, "STRUCTURED_REPLY takes no data");
                if (structured) return invalid(option, "structured replies already negotiated");
                structured = true;
                reply(option, Nbd.REP_ACK, null);
                return null;
            }
            case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> {
                return metaContext(option, p);
            }
            case Nbd.OPT_STARTTLS -> {
                return startTls(option, p);
            }
            default -> {
                String what = switch (option) {
                    case Nbd.OPT_EXTENDED_HEADERS -> "extended headers are not supported";
                    default -> "unknown option " + option;
                };
                replyError(option, Nbd.REP_ERR_UNSUP, what);
                return null;
            }
        }
    }

    private Session infoOrGo(int option, ByteBuffer p) throws IOException {
        if (p.remaining() < 6) return invalid(option, "INFO/GO data too short");
        long nameLen = p.getInt() & 0xffffffffL;
        if (nameLen > p.remaining() - 2) return invalid(option, "export name overruns the option");
        String name = utf8(p, (int) nameLen);
        if (name == null) return invalid(option, "export name is not UTF-8");
        int nInfo = p.getShort() & 0xffff;
        if (p.remaining() != 2 * nInfo) return invalid(option, "information request count does not match the data");
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < nInfo; i++) {
            int info = p.getShort() & 0xffff;
            if (info == Nbd.INFO_NAME) wantName = true;
            if (info == Nbd.INFO_DESCRIPTION) wantDescription = true;
        }
        Export e = server.lookup(name);
        if (e == null) {
            replyError(option, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        ByteBuffer r = ByteBuffer.allocate(12);
        r.putShort((short) Nbd.INFO_EXPORT).putLong(e.size()).putShort((short) transmissionFlags(e, structured)).flip();
        reply(option, Nbd.REP_INFO, r);
        if (wantName) {
            byte[] n = server.canonicalName(name).getBytes(StandardCharsets.UTF_8);
            reply(option, Nbd.REP_INFO, ByteBuffer.allocate(2 + n.length).putShort((short) Nbd.INFO_NAME).put(n).flip());
        }
        if (wantDescription && !e.description().isEmpty()) {
            byte[] d = e.description().getBytes(StandardCharsets.UTF_8);
            if (d.length > Nbd.MAX_STRING) d = java.util.Arrays.copyOf(d, Nbd.MAX_STRING);
            reply(option, Nbd.REP_INFO,
                    ByteBuffer.allocate(2 + d.length).putShort((short) Nbd.INFO_DESCRIPTION).put(d).flip());
        }
        int min = Math.max(1, e.minimumBlockSize());
        int preferred = Math.max(min, e.preferredBlockSize());
        int max = Nbd.MAX_PAYLOAD - Nbd.MAX_PAYLOAD % min;
        r = ByteBuffer.allocate(14);
        r.putShort((short) Nbd.INFO_BLOCK_SIZE).putInt(min).putInt(preferred).putInt(max).flip();
        reply(option, Nbd.REP_INFO, r);
        reply(option, Nbd.REP_ACK, null);
        return option == Nbd.OPT_GO ? session(name, e) : null;
    }

    private Session metaContext(int option, ByteBuffer p) throws IOException {
        boolean set = option == Nbd.OPT_SET_META_CONTEXT;
        if (p.remaining() < 8) return invalid(option, "meta context data too short");
        long nameLen = p.getInt() & 0xffffffffL;
        if (nameLen > p.remaining() - 4) return invalid(option, "export name overruns the option");
        String name = utf8(p, (int) nameLen);
        if (name == null) return invalid(option, "export name is not UTF-8");
        long nQueries = p.getInt() & 0xffffffffL;
        if (nQueries > p.remaining() / 4) return invalid(option, "query count overruns the option");
        String[] queries = new String[(int) nQueries];
        for (int i = 0; i < nQueries; i++) {
            if (p.remaining() < 4) return invalid(option, "query overruns the option");
            long qLen = p.getInt() & 0xffffffffL;
            if (qLen > p.remaining()) return invalid(option, "query overruns the option");
            queries[i] = utf8(p, (int) qLen);
            if (queries[i] == null) return invalid(option, "query is not UTF-8");
        }
        if (p.hasRemaining()) return invalid(option, "trailing bytes after the queries");
        if (set && !structured) return invalid(option, "SET_META_CONTEXT needs structured replies first");
        if (server.lookup(name) == null) {
            replyError(option, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        boolean match = false;
        if (!set && queries.length == 0) match = true;
        for (String q : queries) {
            if (q.equals(Nbd.META_BASE_ALLOCATION) || (!set && q.equals("base:"))) match = true;
        }
        if (match) {
            byte[] n = Nbd.META_BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
            ByteBuffer r = ByteBuffer.allocate(4 + n.length);
            r.putInt(set ? BASE_ALLOCATION_ID : 0).put(n).flip();
            reply(option, Nbd.REP_META_CONTEXT, r);
        }
        if (set) {
            metaExport = server.canonicalName(name);
            metaAllocation = match;
        }
        reply(option, Nbd.REP_ACK, null);
        return null;
    }

    private Session startTls(int option, ByteBuffer p) throws IOException {
        if (p.hasRemaining()) return invalid(option, "STARTTLS takes no data");
        if (server.tls() == null) {
            replyError(option, Nbd.REP_ERR_UNSUP, "TLS is not configured on this server");
            return null;
        }
        if (tls != null) return invalid(option, "TLS is already on");
        reply(option, Nbd.REP_ACK, null);
        tls = TlsChannel.handshake(ch, server.tls().serverEngine(), "client " + NbdConnection.peerOf(ch),
                server.tls().dir().resolve("ca-cert.pem").toString());
        in = tls;
        out = tls;
        structured = false;
        metaExport = null;
        metaAllocation = false;
        return null;
    }

    private Session session(String name, Export e) {
        String canonical = server.canonicalName(name);
        boolean ctx = structured && metaAllocation && canonical.equals(metaExport);
        return new Session(canonical, e, structured, ctx ? BASE_ALLOCATION_ID : 0, noZeroes);
    }

    static int transmissionFlags(Export e, boolean structured) {
        int f = Nbd.FLAG_HAS_FLAGS;
        if (e.readOnly()) {
            f |= Nbd.FLAG_READ_ONLY;
        } else {
            f |= Nbd.FLAG_SEND_FUA;
            if (e.canTrim()) f |= Nbd.FLAG_SEND_TRIM;
            if (e.canWriteZeroes()) {
                f |= Nbd.FLAG_SEND_WRITE_ZEROES;
                if (e.canFastZero()) f |= Nbd.FLAG_SEND_FAST_ZERO;
            }
        }
        if (e.canFlush()) f |= Nbd.FLAG_SEND_FLUSH;
        if (structured) f |= Nbd.FLAG_SEND_DF;
        if (e.canMultiConn()) f |= Nbd.FLAG_CAN_MULTI_CONN;
        if (e.canCache()) f |= Nbd.FLAG_SEND_CACHE;
        return f;
    }

    private Session invalid(int option, String message) throws IOException {
        replyError(option, Nbd.REP_ERR_INVALID, message);
        return null;
    }

    private void replyError(int option, int type, String message) throws IOException {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        reply(option, type, ByteBuffer.wrap(m));
    }

    private void reply(int option, int type, ByteBuffer payload) throws IOException {
        small.clear();
        replyHeader.wrap(small, 0).set(option, type, payload == null ? 0 : payload.remaining());
        small.limit(OptionReplyHeader.LENGTH);
        if (payload == null) {
            writeFully(small);
        } else {
            ByteBuffer[] v = {small, payload};
            while (small.hasRemaining() || payload.hasRemaining()) out.write(v);
        }
    }

    /** Decodes {@code n} bytes as strict UTF-8, or null when they are not. */
    private static String utf8(ByteBuffer p, int n) {
        ByteBuffer slice = p.slice(p.position(), n);
        p.position(p.position() + n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(slice).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private int readInt() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        readFully(b);
        return b.getInt(0);
    }

    private void readFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (in.read(b) < 0) throw new EOFException("client closed during the handshake");
        }
    }

    /**
     * The {@code length} bytes of an option's payload. The buffer grows (doubling) as bytes arrive, so a
     * client that announces 64 KiB and sends 3 bytes costs 4 KiB, not what it announced.
     */
    private ByteBuffer readPayload(int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Math.min(length, FIRST_PAYLOAD_CHUNK));
        while (true) {
            readFully(b);
            if (b.capacity() == length) return b.flip();
            ByteBuffer bigger = ByteBuffer.allocate((int) Math.min(length, 2L * b.capacity()));
            bigger.put(b.flip());
            b = bigger;
        }
    }

    private void skip(long n) throws IOException {
        ByteBuffer scratch = ByteBuffer.allocate(FIRST_PAYLOAD_CHUNK);
        while (n > 0) {
            scratch.clear().limit((int) Math.min(scratch.capacity(), n));
            int r = in.read(scratch);
            if (r < 0) throw new EOFException("client closed during the handshake");
            n -= r;
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }
}

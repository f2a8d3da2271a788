package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.ProtocolException;
import io.bmcast.protocol.RequestDecoder;
import io.bmcast.protocol.RequestHeader;
import io.bmcast.storage.FileExport;
import java.io.EOFException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Property-based fuzzing (jqwik) of every NBD decoder: the server's request decoder and handshake, and the
 * client's option-reply, simple-reply and structured-chunk decoders. Whatever the peer sends, a decoder
 * either accepts it or rejects it with an {@link IOException} (a {@link ProtocolException} or an NBD
 * error), in bounded time, allocating nothing it was only told about; it never throws anything else and
 * never hangs. The socket cases run against real Unix sockets: our server, or a scripted peer for the client.
 */
class NbdDecoderPropertiesTest {
    private static final long SIZE = 1 << 20;
    private static Path dir;
    private static NbdServer server;
    private static Path serverSocket;
    private static final AtomicInteger peers = new AtomicInteger();

    @BeforeContainer
    static void startServer() throws IOException {
        dir = Files.createTempDirectory("bmcast-fuzz-");
        Path file = dir.resolve("ro.img");
        byte[] data = new byte[(int) SIZE];
        new Random(1).nextBytes(data);
        Files.write(file, data);
        server = new NbdServer(Map.of("ro", new FileExport("ro", "fuzz", file, true)),
                NbdServer.Config.defaults().withDefaultExport("ro")
                        .withLimits(NbdServer.Limits.defaults().withHandshakeTimeout(TimeUnit.SECONDS.toNanos(5))));
        serverSocket = dir.resolve("server.sock");
        server.start(Listener.unix(serverSocket));
    }

    @AfterContainer
    static void stopServer() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.activeConnections() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(0, server.activeConnections(), "every fuzzing connection was closed");
        assertEquals(0, server.internalErrors(), "no client input caused an unexpected exception");
        server.close();
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    // ---------------------------------------------------------------- requests (pure)

    @Property(tries = 1000)
    void requestDecoderAcceptsOrRejectsAnyBytesSplitAnyWay(@ForAll @Size(max = 2048) byte[] noise,
                                                          @ForAll @IntRange(min = 1, max = 64) int chunk) {
        RequestDecoder dec = new RequestDecoder();
        ByteBuffer in = ByteBuffer.wrap(noise);
        int steps = 0;
        try {
            for (int pos = 0; pos < noise.length; pos += chunk) {
                ByteBuffer piece = in.slice(pos, Math.min(chunk, noise.length - pos));
                while (true) {
                    assertTrue(++steps < 100_000, "the decoder makes progress");
                    int r = dec.decode(piece);
                    if (r == RequestDecoder.NEED_MORE) break;
                    if (r == RequestDecoder.HEADER) {
                        RequestHeader h = dec.header();
                        if (h.type() == Nbd.CMD_WRITE) {
                            // As the server does: a buffer only for a checked length, else skip the payload.
                            if (h.length() <= 4096) dec.expectPayload(ByteBuffer.allocate((int) h.length()));
                            else dec.discardPayload();
                        } else {
                            dec.next();
                        }
                    }
                }
                assertEquals(0, piece.remaining(), "every byte handed over is consumed");
            }
        } catch (ProtocolException expected) {
            // garbage rejected: the connection would be closed
        }
    }

    @Property(tries = 300)
    void requestDecoderReadsValidRequestsHoweverTheyAreSplit(@ForAll("requests") List<long[]> requests,
                                                            @ForAll @IntRange(min = 1, max = 40) int chunk) throws Exception {
        ByteBuffer wire = ByteBuffer.allocate(requests.size() * (28 + 64));
        for (long[] r : requests) {
            int type = (int) r[0];
            int len = type == Nbd.CMD_WRITE ? (int) (r[2] % 65) : (int) r[2];
            wire.putInt(Nbd.REQUEST_MAGIC).putShort((short) r[3]).putShort((short) type).putLong(r[4]).putLong(r[1]).putInt(len);
            for (int i = 0; type == Nbd.CMD_WRITE && i < len; i++) wire.put((byte) (i ^ r[4]));
        }
        wire.flip();
        RequestDecoder dec = new RequestDecoder();
        int seen = 0;
        ByteBuffer payload = null;
        for (int pos = 0; pos < wire.limit(); pos += chunk) {
            ByteBuffer piece = wire.slice(pos, Math.min(chunk, wire.limit() - pos));
            int r;
            while ((r = dec.decode(piece)) != RequestDecoder.NEED_MORE) {
                if (r == RequestDecoder.HEADER) {
                    long[] want = requests.get(seen);
                    RequestHeader h = dec.header();
                    assertEquals(want[0], h.type());
                    assertEquals(want[1], h.offset());
                    assertEquals(want[4], h.cookie());
                    if (h.type() == Nbd.CMD_WRITE) {
                        payload = ByteBuffer.allocate((int) h.length());
                        dec.expectPayload(payload);
                        if (h.length() == 0) seen++;
                    } else {
                        dec.next();
                        seen++;
                    }
                } else {
                    long[] want = requests.get(seen);
                    for (int i = 0; i < payload.capacity(); i++) assertEquals((byte) (i ^ want[4]), payload.get(i));
                    seen++;
                }
            }
        }
        assertEquals(requests.size(), seen, "every request decoded");
    }

    @Provide
    Arbitrary<List<long[]>> requests() {
        Arbitrary<long[]> one = Arbitraries.longs().array(long[].class).ofSize(5).map(a -> {
            int[] types = {Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_BLOCK_STATUS, Nbd.CMD_WRITE_ZEROES};
            a[0] = types[(int) Math.floorMod(a[0], types.length)];
            a[2] = Math.floorMod(a[2], 1L << 31);
            a[3] = Math.floorMod(a[3], 1 << 16);
            return a;
        });
        return one.list().ofMinSize(1).ofMaxSize(20);
    }

    // ---------------------------------------------------------------- the server's handshake (our server)

    @Property(tries = 300)
    void serverHandshakeSurvivesAnyOptions(@ForAll("optionStreams") byte[] options, @ForAll boolean validFlags)
            throws Exception {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(serverSocket))) {
            try {
                readFully(ch, 18);
                ByteBuffer flags = ByteBuffer.allocate(4).putInt(validFlags ? Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES
                        : (int) (options.length * 2654435761L)).flip();
                writeFully(ch, flags);
                writeFully(ch, ByteBuffer.wrap(options));
                ch.shutdownOutput();
            } catch (IOException serverHungUp) {
                // allowed: it may refuse before we are done
            }
            // The server answers and then closes: it never waits for more than we sent.
            CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> drain(ch));
            drained.get(20, TimeUnit.SECONDS);
        }
        assertEquals(0, server.internalErrors(), "no unexpected exception in the server");
    }

    @Provide
    Arbitrary<byte[]> optionStreams() {
        int[] codes = {Nbd.OPT_EXPORT_NAME, Nbd.OPT_ABORT, Nbd.OPT_LIST, Nbd.OPT_STARTTLS, Nbd.OPT_INFO, Nbd.OPT_GO,
                Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT, Nbd.OPT_EXTENDED_HEADERS, 0, 99};
        Arbitrary<byte[]> option = Arbitraries.bytes().array(byte[].class).ofMaxSize(96).flatMap(payload ->
                Arbitraries.integers().between(0, codes.length - 1).flatMap(code ->
                        Arbitraries.integers().between(0, 3).map(lengthKind -> {
                            int len = switch (lengthKind) {
                                case 0 -> Integer.MAX_VALUE - payload.length; // a lie, far too long
                                case 1 -> payload.length + 3; // a little too long
                                default -> payload.length;
                            };
                            ByteBuffer b = ByteBuffer.allocate(16 + payload.length);
                            b.putLong(lengthKind == 3 && payload.length > 40 ? 0x1234L : Nbd.IHAVEOPT).putInt(codes[code]).putInt(len).put(payload);
                            return b.array();
                        })));
        return option.list().ofMinSize(1).ofMaxSize(6).map(list -> {
            int n = 0;
            for (byte[] o : list) n += o.length;
            ByteBuffer all = ByteBuffer.allocate(n);
            for (byte[] o : list) all.put(o);
            return all.array();
        });
    }

    // ---------------------------------------------------------------- the client's decoders (scripted server)

    @Property(tries = 80)
    void clientRejectsAnyOptionRepliesWithAnIoError(@ForAll("replyNoise") List<byte[]> replies, @ForAll boolean rightOption)
            throws Exception {
        runClientAgainst(ch -> {
            handshakeGreeting(ch);
            // Answer the client's first option with all the noise, then hang up: never wait on the client
            // while it waits on a reply we announced and did not send.
            int option = readOption(ch);
            if (option < 0) return;
            for (byte[] noise : replies) {
                ByteBuffer b = ByteBuffer.wrap(noise);
                if (rightOption && noise.length >= 20) b.putLong(0, Nbd.OPTION_REPLY_MAGIC).putInt(8, option);
                if (noise.length >= 20) b.putInt(16, Math.min(Math.abs(b.getInt(16)), noise.length - 20) | (noise[0] < -100 ? 1 << 30 : 0));
                writeFully(ch, b);
            }
        }, false);
    }

    @Property(tries = 80)
    void clientRejectsAnyReplyOrChunkWithAnIoError(@ForAll("replyNoise") List<byte[]> chunks, @ForAll boolean structured)
            throws Exception {
        runClientAgainst(ch -> {
            handshakeGreeting(ch);
            if (!answerOptions(ch, structured)) return;
            ByteBuffer req = readFully(ch, 28);
            long cookie = req.getLong(8);
            for (byte[] noise : chunks) {
                ByteBuffer b = ByteBuffer.wrap(noise);
                if (noise.length >= 16) {
                    b.putInt(0, structured ? Nbd.STRUCTURED_REPLY_MAGIC : Nbd.SIMPLE_REPLY_MAGIC);
                    if (structured && noise.length >= 20) {
                        int[] types = {Nbd.REPLY_TYPE_NONE, Nbd.REPLY_TYPE_OFFSET_DATA, Nbd.REPLY_TYPE_OFFSET_HOLE,
                                Nbd.REPLY_TYPE_BLOCK_STATUS, Nbd.REPLY_TYPE_ERROR, Nbd.REPLY_TYPE_ERROR_OFFSET, 0x7777};
                        b.putShort(6, (short) types[Math.floorMod(noise[1], types.length)]).putLong(8, cookie);
                        b.putInt(16, noise[2] < 0 ? b.getInt(16) : noise.length - 20); // a random or an honest length
                    } else if (!structured) {
                        b.putLong(8, cookie);
                    }
                }
                writeFully(ch, b);
            }
        }, true);
    }

    @Provide
    Arbitrary<List<byte[]>> replyNoise() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(200).list().ofMinSize(1).ofMaxSize(4);
    }

    @FunctionalInterface
    interface Script {
        void play(SocketChannel ch) throws IOException;
    }

    /**
     * Runs our client against a scripted server on a fresh socket (one connection, then the listener is
     * gone, so reconnects fail fast): connecting, and reading when {@code read}, must end in success or an
     * IOException within 20 s.
     */
    private static void runClientAgainst(Script script, boolean read) throws Exception {
        Path sock = dir.resolve("peer-" + peers.incrementAndGet() + ".sock");
        ServerSocketChannel listener = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(sock));
        Thread peer = Thread.ofVirtual().start(() -> {
            try (listener; SocketChannel ch = listener.accept()) {
                listener.close();
                Files.deleteIfExists(sock);
                script.play(ch);
            } catch (IOException e) {
                // the client hung up on us: that is its right
            }
        });
        NbdClient.Options options = NbdClient.Options.defaults().giveUpAfter(Duration.ofMillis(100))
                .stallTimeout(Duration.ofSeconds(2)).connectTimeout(Duration.ofSeconds(5));
        CompletableFuture<Throwable> outcome = CompletableFuture.supplyAsync(() -> {
            try (NbdClient c = NbdClient.connect(NbdUri.unix(sock, "ro"), options)) {
                if (read) c.read(0, ByteBuffer.allocate(4096));
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Throwable t = outcome.get(20, TimeUnit.SECONDS);
        peer.join(TimeUnit.SECONDS.toMillis(10));
        if (t != null && !(t instanceof IOException)) throw new AssertionError("the client threw " + t, t);
    }

    private static void handshakeGreeting(SocketChannel ch) throws IOException {
        writeFully(ch, ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip());
        readFully(ch, 4);
    }

    /** Reads one option (header and payload); its code, or -1 when the client left. */
    private static int readOption(SocketChannel ch) throws IOException {
        ByteBuffer h;
        try {
            h = readFully(ch, 16);
        } catch (EOFException e) {
            return -1;
        }
        int len = h.getInt(12);
        if (len < 0 || len > 1 << 16) return -1;
        readFully(ch, len);
        return h.getInt(8);
    }

    /** Answers the client's options as a plain read-only server would, up to GO. False when it left. */
    private static boolean answerOptions(SocketChannel ch, boolean structured) throws IOException {
        for (int i = 0; i < 10; i++) {
            int option = readOption(ch);
            if (option < 0) return false;
            switch (option) {
                case Nbd.OPT_STRUCTURED_REPLY -> reply(ch, option, structured ? Nbd.REP_ACK : Nbd.REP_ERR_UNSUP, new byte[0]);
                case Nbd.OPT_SET_META_CONTEXT -> {
                    byte[] name = Nbd.META_BASE_ALLOCATION.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    reply(ch, option, Nbd.REP_META_CONTEXT, ByteBuffer.allocate(4 + name.length).putInt(1).put(name).array());
                    reply(ch, option, Nbd.REP_ACK, new byte[0]);
                }
                case Nbd.OPT_GO, Nbd.OPT_INFO -> {
                    reply(ch, option, Nbd.REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT).putLong(SIZE)
                            .putShort((short) (Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_READ_ONLY | (structured ? Nbd.FLAG_SEND_DF : 0))).array());
                    reply(ch, option, Nbd.REP_ACK, new byte[0]);
                    if (option == Nbd.OPT_GO) return true;
                }
                default -> reply(ch, option, Nbd.REP_ERR_UNSUP, new byte[0]);
            }
        }
        return false;
    }

    private static void reply(SocketChannel ch, int option, int type, byte[] payload) throws IOException {
        writeFully(ch, ByteBuffer.allocate(20 + payload.length).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type)
                .putInt(payload.length).put(payload).flip());
    }

    private static ByteBuffer readFully(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) throw new EOFException("peer closed");
        }
        return b.flip();
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    private static void drain(SocketChannel ch) {
        ByteBuffer b = ByteBuffer.allocate(8192);
        try {
            while (ch.read(b.clear()) >= 0) {
                // discard
            }
        } catch (IOException e) {
            // reset by the server: closed too
        }
    }
}

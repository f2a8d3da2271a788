package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.protocol.ProtocolException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What real servers never do, played by a scripted peer: the first connection answers one READ with a
 * broken reply, later connections answer correctly. The client must drop the connection, never hand out
 * the bad data, and recover on a new connection.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NbdClientProtocolViolationTest {
    private static final int SIZE = 1 << 20;

    /** Writes the reply to one READ (cookie, offset, length) on connection number {@code conn}. */
    interface Replier {
        void reply(int conn, long cookie, long offset, int length, SocketChannel ch) throws IOException;
    }

    private Path dir;
    private ServerSocketChannel listener;
    private Thread acceptor;
    private final AtomicInteger connections = new AtomicInteger();
    /** When non-zero the fake advertises INFO_BLOCK_SIZE: minimum 512, preferred 4096, this maximum. */
    private static volatile int maxBlock;
    /** When set, every write to the client goes out one byte at a time. */
    private static volatile boolean dribble;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("bmcast-fake-nbd-");
    }

    @AfterEach
    void tearDown() throws Exception {
        maxBlock = 0;
        dribble = false;
        if (listener != null) listener.close();
        if (acceptor != null) acceptor.join(5000);
        Files.deleteIfExists(dir.resolve("s.sock"));
        Files.deleteIfExists(dir);
    }

    private NbdClient start(Replier replier) throws IOException {
        Path sock = dir.resolve("s.sock");
        listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(sock));
        acceptor = Thread.ofVirtual().start(() -> {
            while (listener.isOpen()) {
                try {
                    SocketChannel ch = listener.accept();
                    int n = connections.incrementAndGet();
                    Thread.ofVirtual().start(() -> serve(n, ch, replier));
                } catch (IOException e) {
                    return;
                }
            }
        });
        return NbdClient.connect(NbdUri.unix(sock, ""), NbdClient.Options.defaults().giveUpAfter(Duration.ofSeconds(10)));
    }

    /** Byte i of the export. */
    private static byte at(long i) {
        return (byte) (i * 31 + 7);
    }

    private static void serve(int conn, SocketChannel ch, Replier replier) {
        try (ch) {
            write(ch, ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT).putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip());
            read(ch, 4);
            while (true) {
                ByteBuffer h = read(ch, 16);
                int option = h.getInt(8);
                read(ch, h.getInt(12));
                if (option == Nbd.OPT_STRUCTURED_REPLY) {
                    optionReply(ch, option, Nbd.REP_ACK, ByteBuffer.allocate(0));
                } else if (option == Nbd.OPT_GO) {
                    optionReply(ch, option, Nbd.REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT).putLong(SIZE)
                            .putShort((short) (Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_READ_ONLY)).flip());
                    if (maxBlock != 0) {
                        optionReply(ch, option, Nbd.REP_INFO, ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE)
                                .putInt(512).putInt(4096).putInt(maxBlock).flip());
                    }
                    optionReply(ch, option, Nbd.REP_ACK, ByteBuffer.allocate(0));
                    break;
                } else {
                    optionReply(ch, option, Nbd.REP_ERR_UNSUP, ByteBuffer.allocate(0));
                }
            }
            while (true) {
                ByteBuffer r = read(ch, 28);
                int type = r.getShort(6);
                if (type == Nbd.CMD_DISC) return;
                replier.reply(conn, r.getLong(8), r.getLong(16), r.getInt(24), ch);
            }
        } catch (IOException e) {
            // client went away
        }
    }

    private static void optionReply(SocketChannel ch, int option, int type, ByteBuffer payload) throws IOException {
        write(ch, ByteBuffer.allocate(20).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(payload.remaining()).flip());
        write(ch, payload);
    }

    private static ByteBuffer read(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) if (ch.read(b) < 0) throw new IOException("eof");
        return b.flip();
    }

    private static void write(SocketChannel ch, ByteBuffer b) throws IOException {
        if (dribble) {
            while (b.hasRemaining()) {
                ch.write(b.slice(b.position(), 1));
                b.position(b.position() + 1);
            }
            return;
        }
        while (b.hasRemaining()) ch.write(b);
    }

    /** A correct reply: the data in two OFFSET_DATA chunks, second half first. */
    static void goodReply(long cookie, long offset, int length, SocketChannel ch) throws IOException {
        int half = length / 2;
        dataChunk(ch, 0, cookie, offset + half, length - half);
        if (half > 0) dataChunk(ch, 0, cookie, offset, half);
        chunk(ch, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, ByteBuffer.allocate(0));
    }

    static void dataChunk(SocketChannel ch, int flags, long cookie, long offset, int length) throws IOException {
        ByteBuffer p = ByteBuffer.allocate(8 + length).putLong(offset);
        for (int i = 0; i < length; i++) p.put(at(offset + i));
        chunk(ch, flags, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, p.flip());
    }

    static void chunk(SocketChannel ch, int flags, int type, long cookie, ByteBuffer payload) throws IOException {
        write(ch, ByteBuffer.allocate(20).putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(cookie).putInt(payload.remaining()).flip());
        write(ch, payload);
    }

    private static void assertGoodRead(NbdClient c, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        c.read(offset, b);
        for (int i = 0; i < length; i++) assertEquals(at(offset + i), b.get(i), "byte " + (offset + i));
    }

    private void assertCulpritFails(Replier broken, String expected) throws Exception {
        try (NbdClient c = start((conn, cookie, off, len, ch) -> {
            if (conn == 1) broken.reply(conn, cookie, off, len, ch);
            else goodReply(cookie, off, len, ch);
        })) {
            NbdException e = assertThrows(NbdException.class, () -> assertGoodRead(c, 4096, 8192));
            assertEquals(Nbd.EIO, e.error());
            assertInstanceOf(ProtocolException.class, e.getCause(), e.toString());
            assertTrue(e.getCause().getMessage().contains(expected), e.getCause().getMessage());
            assertGoodRead(c, 4096, 8192); // on a new connection
            assertEquals(2, connections.get());
        }
    }

    @Test
    void chunkOutsideTheRequest() throws Exception {
        assertCulpritFails((conn, cookie, off, len, ch) -> dataChunk(ch, Nbd.REPLY_FLAG_DONE, cookie, off + 1, len), "outside request");
    }

    @Test
    void replyThatDoesNotCoverTheRequest() throws Exception {
        assertCulpritFails((conn, cookie, off, len, ch) -> dataChunk(ch, Nbd.REPLY_FLAG_DONE, cookie, off, len - 1), "covered 8191 of 8192");
    }

    @Test
    void overlappingChunks() throws Exception {
        assertCulpritFails((conn, cookie, off, len, ch) -> {
            dataChunk(ch, 0, cookie, off, len);
            dataChunk(ch, Nbd.REPLY_FLAG_DONE, cookie, off, 512);
        }, "overlap");
    }

    @Test
    void holeChunkWithBadLength() throws Exception {
        assertCulpritFails((conn, cookie, off, len, ch) ->
                chunk(ch, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_HOLE, cookie, ByteBuffer.allocate(16).putLong(off).putInt(len).putInt(0).flip()),
                "expected 12");
    }

    @Test
    void unknownCookieDropsTheConnectionAndTheReadIsResent() throws Exception {
        try (NbdClient c = start((conn, cookie, off, len, ch) -> goodReply(conn == 1 ? cookie ^ 0x5555_0000_0000L : cookie, off, len, ch))) {
            assertGoodRead(c, 100, 5000);
            assertEquals(1, c.reconnects());
            assertTrue(c.status().lastError().contains("unknown cookie"), c.status().lastError());
        }
    }

    @Test
    void badReplyMagicDropsTheConnection() throws Exception {
        try (NbdClient c = start((conn, cookie, off, len, ch) -> {
            if (conn == 1) write(ch, ByteBuffer.allocate(20).putInt(0x12345678).flip());
            else goodReply(cookie, off, len, ch);
        })) {
            assertGoodRead(c, 0, 4096);
            assertEquals(1, c.reconnects());
            assertTrue(c.status().lastError().contains("bad reply magic 0x12345678"), c.status().lastError());
        }
    }

    @Test
    void structuredErrorWithOffsetAndMessage() throws Exception {
        try (NbdClient c = start((conn, cookie, off, len, ch) -> {
            byte[] msg = "disk on fire".getBytes();
            dataChunk(ch, 0, cookie, off, 512);
            chunk(ch, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR_OFFSET, cookie,
                    ByteBuffer.allocate(14 + msg.length).putInt(Nbd.ENOSPC).putShort((short) msg.length).put(msg).putLong(off + 512).flip());
        })) {
            NbdException e = assertThrows(NbdException.class, () -> assertGoodRead(c, 0, 4096));
            assertEquals(Nbd.ENOSPC, e.error());
            assertTrue(e.getMessage().contains("disk on fire"), e.getMessage());
            assertEquals(0, c.reconnects(), "an error chunk is not a protocol violation");
        }
    }

    @Test
    void repliesArrivingOneByteAtATime() throws Exception {
        // Data, a hole and more data, every byte in its own write: each header and payload is split.
        try (NbdClient c = start((conn, cookie, off, len, ch) -> {
            dribble = true;
            dataChunk(ch, 0, cookie, off, 100);
            chunk(ch, 0, Nbd.REPLY_TYPE_OFFSET_HOLE, cookie, ByteBuffer.allocate(12).putLong(off + 100).putInt(200).flip());
            dataChunk(ch, Nbd.REPLY_FLAG_DONE, cookie, off + 300, len - 300);
        })) {
            ByteBuffer b = ByteBuffer.allocate(400);
            for (int i = 0; i < 400; i++) b.put(i, (byte) 0xee); // the hole must be zeroed, not left as is
            c.read(1000, b);
            for (int i = 0; i < 400; i++) {
                byte want = i >= 100 && i < 300 ? 0 : at(1000 + i);
                assertEquals(want, b.get(i), "byte " + i);
            }
            assertEquals(0, c.reconnects());
        }
    }

    @Test
    void honoursTheServersBlockSizes() throws Exception {
        maxBlock = 65536;
        AtomicInteger reads = new AtomicInteger();
        try (NbdClient c = start((conn, cookie, off, len, ch) -> {
            assertTrue(len <= 65536, "request of " + len + " bytes over the maximum");
            reads.incrementAndGet();
            goodReply(cookie, off, len, ch);
        })) {
            assertEquals(512, c.info().minimumBlockSize());
            assertEquals(65536, c.info().maximumBlockSize());
            assertGoodRead(c, 4096, 200 * 1024);
            assertEquals(4, reads.get(), "200 KiB in requests of at most 64 KiB");
            assertEquals(Nbd.EINVAL, assertThrows(NbdException.class, () -> c.read(100, ByteBuffer.allocate(512))).error());
        }
    }
}

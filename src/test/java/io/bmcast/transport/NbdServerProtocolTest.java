package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.storage.FileExport;
import io.bmcast.testing.RawNbd;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The handshake and transmission rules, byte by byte, with a bare peer ({@link RawNbd}). */
@Timeout(60)
class NbdServerProtocolTest {
    private static final int SIZE = 1 << 20;

    @TempDir
    Path dir;
    Path img;
    Path rwImg;
    TestServer s;

    @BeforeEach
    void start() throws IOException {
        img = TestFiles.random(dir.resolve("ro.img"), SIZE, 11);
        rwImg = TestFiles.random(dir.resolve("rw.img"), SIZE, 12);
        s = TestServer.on(dir).file("ro", img, false).file("rw", rwImg, true).start();
    }

    @AfterEach
    void stop() {
        s.close();
    }

    private RawNbd connect() throws IOException {
        return new RawNbd(s.socket());
    }

    private static byte[] infoPayload(String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + n.length + 4).putInt(n.length).put(n).putShort((short) 1)
                .putShort((short) Nbd.INFO_DESCRIPTION).array();
    }

    @Test
    void unsupportedAndUnknownOptionsAreRefusedAndTheHandshakeGoesOn() throws IOException {
        try (RawNbd c = connect().greet()) {
            for (int opt : new int[] {Nbd.OPT_STARTTLS, Nbd.OPT_EXTENDED_HEADERS, 4242}) {
                c.option(opt, new byte[0]);
                var r = c.optionReply();
                assertEquals(opt, r.option());
                assertEquals(Nbd.REP_ERR_UNSUP, r.type());
            }
            c.option(Nbd.OPT_INFO, infoPayload("nope"));
            assertEquals(Nbd.REP_ERR_UNKNOWN, c.optionReply().type());
            c.option(Nbd.OPT_LIST, new byte[3]);
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
            // An INFO whose name length overruns the payload.
            c.option(Nbd.OPT_INFO, ByteBuffer.allocate(8).putInt(1000).array());
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
            c.option(Nbd.OPT_INFO, infoPayload("ro"));
            var export = c.optionReply();
            assertEquals(Nbd.REP_INFO, export.type());
            ByteBuffer p = ByteBuffer.wrap(export.payload());
            assertEquals(Nbd.INFO_EXPORT, p.getShort());
            assertEquals(SIZE, p.getLong());
            assertTrue((p.getShort() & Nbd.FLAG_READ_ONLY) != 0);
            var more = c.optionReply();
            assertEquals(Nbd.REP_INFO, more.type());
            assertEquals(Nbd.INFO_DESCRIPTION, ByteBuffer.wrap(more.payload()).getShort());
            assertEquals("test file ro.img", new String(more.payload(), 2, more.payload().length - 2, StandardCharsets.UTF_8));
            while (more.type() == Nbd.REP_INFO) more = c.optionReply();
            assertEquals(Nbd.REP_ACK, more.type());
            c.go("ro", true, true);
            c.request(0, Nbd.CMD_READ, 1, 0, 4096, null);
            var reply = c.reply(4096);
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, reply.type());
            assertEquals(Nbd.REPLY_FLAG_DONE, reply.flags());
            assertArrayEquals(Arrays.copyOf(Files.readAllBytes(img), 4096),
                    Arrays.copyOfRange(reply.payload(), 8, 8 + 4096));
        }
    }

    @Test
    void oversizedOptionIsSkippedWithTooBig() throws IOException {
        try (RawNbd c = connect().greet()) {
            c.option(4242, new byte[Nbd.MAX_OPTION_LENGTH + 1]);
            assertEquals(Nbd.REP_ERR_TOO_BIG, c.optionReply().type());
            c.go("ro", false, false);
            c.request(0, Nbd.CMD_READ, 7, 0, 512, null);
            assertEquals(0, c.reply(512).error());
        }
    }

    @Test
    void listMetaContextAnswersBasePrefixQueries() throws IOException {
        try (RawNbd c = connect().greet()) {
            byte[] q = "base:".getBytes(StandardCharsets.UTF_8);
            ByteBuffer p = ByteBuffer.allocate(4 + 2 + 4 + 4 + q.length);
            p.putInt(2).put("ro".getBytes(StandardCharsets.UTF_8)).putInt(1).putInt(q.length).put(q);
            c.option(Nbd.OPT_LIST_META_CONTEXT, p.array());
            var r = c.optionReply();
            assertEquals(Nbd.REP_META_CONTEXT, r.type());
            assertEquals(Nbd.META_BASE_ALLOCATION, new String(r.payload(), 4, r.payload().length - 4, StandardCharsets.UTF_8));
            assertEquals(Nbd.REP_ACK, c.optionReply().type());
            // SET before STRUCTURED_REPLY is invalid.
            c.option(Nbd.OPT_SET_META_CONTEXT, p.array());
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
        }
    }

    @Test
    void badMagicAndUnknownExportNameClose() throws IOException {
        try (RawNbd c = connect().greet()) {
            c.write(ByteBuffer.wrap("NOTMAGIC\0\0\0\u0001\0\0\0\0".getBytes(StandardCharsets.ISO_8859_1)));
            assertTrue(c.closedByServer());
        }
        try (RawNbd c = connect().greet()) {
            c.option(Nbd.OPT_EXPORT_NAME, "missing".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer());
        }
        try (RawNbd c = connect()) {
            c.read(18);
            c.write(ByteBuffer.allocate(4).putInt(0xff00).flip()); // unknown client flags
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void exportNameWithNoZeroesEntersTransmission() throws IOException {
        try (RawNbd c = connect().greet()) {
            c.option(Nbd.OPT_EXPORT_NAME, "rw".getBytes(StandardCharsets.UTF_8));
            ByteBuffer r = c.read(10);
            assertEquals(SIZE, r.getLong());
            assertEquals(0, r.getShort() & Nbd.FLAG_READ_ONLY);
            c.request(0, Nbd.CMD_WRITE, 5, 4096, 4, new byte[] {1, 2, 3, 4});
            var w = c.reply(0);
            assertEquals(5, w.cookie());
            assertEquals(0, w.error());
            c.request(0, Nbd.CMD_WRITE, 7, 4096, 0, null); // an empty WRITE: replied at once, nothing held
            assertEquals(7, c.reply(0).cookie());
            c.request(0, Nbd.CMD_READ, 6, 4096, 4, null);
            assertArrayEquals(new byte[] {1, 2, 3, 4}, c.reply(4).payload());
        }
    }

    @Test
    void badRequestsGetTheErrorsTheSpecNames() throws IOException {
        try (RawNbd c = connect().greet().go("ro", false, false)) {
            c.request(0, 99, 1, 0, 512, null);
            assertEquals(Nbd.EINVAL, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 2, SIZE - 100, 512, null);
            assertEquals(Nbd.EINVAL, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 3, -4096, 512, null); // offset 2^64 - 4096
            assertEquals(Nbd.EINVAL, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 4, 0, Nbd.MAX_PAYLOAD + 1L, null);
            assertEquals(Nbd.EOVERFLOW, c.reply(0).error());
            c.request(0, Nbd.CMD_WRITE, 5, 0, 4, new byte[4]);
            assertEquals(Nbd.EPERM, c.reply(0).error());
            c.request(0, Nbd.CMD_TRIM, 6, 0, 4096, null);
            assertEquals(Nbd.EPERM, c.reply(0).error());
            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 7, 0, 512, null); // DF without structured replies
            assertEquals(Nbd.EINVAL, c.reply(0).error());
            c.request(0, Nbd.CMD_BLOCK_STATUS, 8, 0, 512, null); // no meta context
            assertEquals(Nbd.EINVAL, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 9, 0, 512, null);
            var ok = c.reply(512);
            assertEquals(9, ok.cookie());
            assertEquals(0, ok.error());
        }
        try (RawNbd c = connect().greet().go("rw", true, false)) {
            // An oversized WRITE: its payload is skipped, the stream stays in step.
            c.request(0, Nbd.CMD_WRITE, 10, 0, Nbd.MAX_PAYLOAD + 4096L, null);
            c.write(ByteBuffer.allocate(Nbd.MAX_PAYLOAD + 4096));
            assertEquals(Nbd.EINVAL, c.reply(0).error());
            c.request(0, Nbd.CMD_WRITE, 11, SIZE - 2, 4, new byte[4]);
            assertEquals(Nbd.ENOSPC, c.reply(0).error());
            c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_WRITE, 12, 0, 4, new byte[4]); // flag not valid for WRITE
            assertEquals(Nbd.EINVAL, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 13, SIZE, 1, null);
            var err = c.reply(0);
            assertTrue(err.structured());
            assertEquals(Nbd.REPLY_TYPE_ERROR, err.type());
            assertEquals(Nbd.EINVAL, err.error());
            c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 14, 0, 4, new byte[] {9, 9, 9, 9});
            assertEquals(0, c.reply(0).error());
            c.request(0, Nbd.CMD_FLUSH, 15, 0, 0, null);
            assertEquals(0, c.reply(0).error());
            c.request(0, Nbd.CMD_DISC, 16, 0, 0, null);
            assertTrue(c.closedByServer());
        }
        assertEquals(9, Files.readAllBytes(rwImg)[0]);
    }

    @Test
    void blockStatusReportsHolesAndData() throws IOException {
        long mib = 1 << 20;
        Path sparse = TestFiles.sparse(dir.resolve("sparse.img"), 8 * mib, 13, 2 * mib, mib);
        try (TestServer t = TestServer.on(Files.createDirectory(dir.resolve("b"))).file("sp", sparse, false).start();
             RawNbd c = new RawNbd(t.socket()).greet().go("sp", true, true)) {
            c.request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 8 * mib, null);
            var r = c.reply(0);
            assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, r.type());
            ByteBuffer p = ByteBuffer.wrap(r.payload());
            assertEquals(1, p.getInt()); // context id
            assertEquals(2 * mib, p.getInt());
            assertEquals(Nbd.STATE_HOLE | Nbd.STATE_ZERO, p.getInt());
            assertEquals(mib, p.getInt());
            assertEquals(0, p.getInt());
            assertEquals(5 * mib, p.getInt());
            assertEquals(Nbd.STATE_HOLE | Nbd.STATE_ZERO, p.getInt());
            assertFalse(p.hasRemaining());
            c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 2, 2 * mib + 4096, 4 * mib, null);
            p = ByteBuffer.wrap(c.reply(0).payload());
            assertEquals(12, p.capacity());
            assertEquals(1, p.getInt());
            assertEquals(mib - 4096, p.getInt());
            assertEquals(0, p.getInt());
        }
    }

    /** An export whose reads wait for a signal, to show replies leaving out of order. */
    static final class GatedExport implements Export {
        final CountDownLatch gate = new CountDownLatch(1);
        final CountDownLatch entered = new CountDownLatch(1);

        @Override public String name() { return "gated"; }
        @Override public long size() { return SIZE; }
        @Override public boolean readOnly() { return true; }
        @Override public void read(long offset, ByteBuffer dst) throws IOException {
            if (offset == 0) {
                entered.countDown();
                try {
                    gate.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
            while (dst.hasRemaining()) dst.put((byte) (offset >> 12));
        }
        @Override public void write(long offset, ByteBuffer src, boolean fua) {}
        @Override public void flush() {}
        @Override public void trim(long offset, long length, boolean fua) {}
        @Override public void writeZeroes(long o, long l, boolean n, boolean f, boolean fua) {}
        @Override public void blockStatus(long offset, long length, ExtentSink sink) { sink.extent(length, 0); }
    }

    @Test
    void slowRequestsReplyOutOfOrderAndShutdownWaitsForThem() throws Exception {
        GatedExport g = new GatedExport();
        Path sub = Files.createDirectory(dir.resolve("g"));
        TestServer t = TestServer.on(sub).export("gated", g).start();
        try (RawNbd c = new RawNbd(t.socket()).greet().go("gated", false, false)) {
            c.request(0, Nbd.CMD_READ, 100, 0, 4096, null);
            assertTrue(g.entered.await(10, TimeUnit.SECONDS));
            c.request(0, Nbd.CMD_READ, 200, 8192, 4096, null);
            var first = c.reply(4096);
            assertEquals(200, first.cookie(), "the fast request overtakes the slow one");
            assertEquals(2, first.payload()[0]);
            // Shut down with the slow request still in flight: its reply must still arrive.
            Thread closer = Thread.ofVirtual().start(t::close);
            Thread.sleep(200);
            g.gate.countDown();
            var second = c.reply(4096);
            assertEquals(100, second.cookie());
            assertEquals(0, second.error());
            closer.join(15_000);
            assertFalse(closer.isAlive());
            assertTrue(c.closedByServer());
            assertFalse(Files.exists(t.socket()), "socket file removed on shutdown");
        } finally {
            t.close();
        }
    }

    @Test
    void clientVanishingMidRequestLeavesNothingBehind() throws Exception {
        long before = NbdServer.nativeBufferBytes();
        for (int i = 0; i < 5; i++) {
            RawNbd c = connect().greet().go("rw", false, false);
            c.request(0, Nbd.CMD_WRITE, 1, 0, 1 << 20, null);
            c.write(ByteBuffer.allocate(300_000));
            c.close();
        }
        try (RawNbd c = connect().greet().go("ro", false, false)) {
            c.request(0, Nbd.CMD_READ, 1, 0, 4096, null);
            assertEquals(0, c.reply(4096).error());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (s.server.activeConnections() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(0, s.server.activeConnections());
        assertTrue(NbdServer.nativeBufferBytes() <= before, "buffers of dead connections are freed");
    }

    @Test
    void defaultExportAnswersTheEmptyName() throws IOException {
        Path sub = dir.resolve("d");
        Files.createDirectory(sub);
        try (TestServer t = TestServer.on(sub).export("ro", FileExport.open(img, true)).defaultExport("ro").start();
             RawNbd c = new RawNbd(t.socket()).greet().go("", false, false)) {
            c.request(0, Nbd.CMD_READ, 1, 0, 16, null);
            assertArrayEquals(Arrays.copyOf(Files.readAllBytes(img), 16), c.reply(16).payload());
        }
    }
}

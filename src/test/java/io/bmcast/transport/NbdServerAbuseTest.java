package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.protocol.Nbd;
import io.bmcast.testing.RawNbd;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that sit on the server instead of using it: each is disconnected by the bound meant for it
 * (handshake deadline, option length cap, idle timeout, connection limit, server-wide bytes in flight),
 * and a well-behaved client is served meanwhile. Real Unix sockets; deadlines of a second.
 */
@Timeout(120)
class NbdServerAbuseTest {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    @TempDir
    Path dir;

    private TestServer server(NbdServer.Limits limits) throws IOException {
        Path image = TestFiles.random(dir.resolve("ro.img"), 64 << 20, 5);
        return TestServer.on(dir).file("ro", image, false).limits(limits).start();
    }

    @Test
    void aClientThatStopsInTheHandshakeIsDisconnectedAtTheDeadline() throws Exception {
        try (TestServer s = server(NbdServer.Limits.defaults().withHandshakeTimeout(SECOND));
             RawNbd silent = new RawNbd(s.socket());
             RawNbd afterFlags = new RawNbd(s.socket()).greet()) {
            silent.read(18); // the greeting, and then nothing from us
            assertTrue(silent.closedByServer());
            assertTrue(afterFlags.closedByServer());
            awaitTrue(() -> s.server.connectionsTimedOut() == 2, "both counted as timed out");
        }
    }

    @Test
    void anOptionAnnouncingFourGibibytesIsRefusedAtOnceWithoutReadingIt() throws Exception {
        try (TestServer s = server(NbdServer.Limits.defaults());
             RawNbd c = new RawNbd(s.socket()).greet()) {
            c.write(ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(-1).flip()); // 4 GiB - 1
            c.write(ByteBuffer.wrap(new byte[] {0, 0, 0}));
            RawNbd.OptionReply r = c.optionReply();
            assertEquals(Nbd.REP_ERR_TOO_BIG, r.type(), "TOO_BIG");
            assertTrue(c.closedByServer(), "and the server hangs up rather than read 4 GiB");
        }
    }

    @Test
    void optionsTrickledByteByByteDoNotOutliveTheHandshakeDeadline() throws Exception {
        try (TestServer s = server(NbdServer.Limits.defaults().withHandshakeTimeout(SECOND))) {
            List<RawNbd> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 20; i++) {
                    RawNbd c = new RawNbd(s.socket()).greet();
                    c.write(ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(Nbd.MAX_OPTION_LENGTH).flip());
                    clients.add(c);
                }
                // Keep trickling one byte per client every 100 ms: progress, but not a finished handshake.
                long start = System.nanoTime();
                int open = clients.size();
                for (int round = 0; round < 100 && open > 0; round++) {
                    open = 0;
                    for (RawNbd c : clients) {
                        try {
                            c.write(ByteBuffer.wrap(new byte[] {'x'}));
                            open++;
                        } catch (IOException closed) {
                            // disconnected: what we expect
                        }
                    }
                    Thread.sleep(100);
                }
                assertEquals(0, open, "every trickling client was disconnected");
                assertTrue(System.nanoTime() - start < 10 * SECOND, "within a few seconds of the 1 s deadline");
                awaitTrue(() -> s.server.connectionsTimedOut() == 20, "all 20 counted as timed out");
            } finally {
                for (RawNbd c : clients) c.close();
            }
        }
    }

    @Test
    void anIdleConnectionIsClosedAndABusyOneIsNot() throws Exception {
        try (TestServer s = server(NbdServer.Limits.defaults().withIdleTimeout(SECOND));
             RawNbd idle = new RawNbd(s.socket()).greet().go("ro", true, false);
             RawNbd busy = new RawNbd(s.socket()).greet().go("ro", true, false)) {
            long start = System.nanoTime();
            for (int i = 0; System.nanoTime() - start < 3 * SECOND; i++) {
                busy.request(0, Nbd.CMD_READ, i, 4096L * i, 4096, null);
                assertEquals(0, busy.reply(4096).error());
                Thread.sleep(250);
            }
            assertTrue(idle.closedByServer(), "the idle one is gone");
            busy.request(0, Nbd.CMD_READ, 99, 0, 4096, null);
            assertEquals(0, busy.reply(4096).error(), "the busy one is still served");
            assertEquals(1, s.server.connectionsTimedOut());
        }
    }

    @Test
    void aWriteWhosePayloadStopsComingIsDroppedAtTheIdleTimeout() throws Exception {
        Path rw = TestFiles.random(dir.resolve("rw.img"), 8 << 20, 6);
        try (TestServer s = TestServer.on(dir).file("rw", rw, true)
                .limits(NbdServer.Limits.defaults().withIdleTimeout(SECOND)).start();
             RawNbd c = new RawNbd(s.socket()).greet().go("rw", false, false)) {
            // A 4 MiB WRITE with 16 bytes of its payload: the server holds a 4 MiB buffer for it meanwhile.
            c.write(ByteBuffer.allocate(28 + 16).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_WRITE)
                    .putLong(1).putLong(0).putInt(4 << 20).flip());
            awaitTrue(() -> s.server.bytesInFlight() >= 4 << 20, "the payload buffer is taken");
            assertTrue(c.closedByServer(), "the half-sent WRITE is dropped");
            awaitTrue(() -> s.server.bytesInFlight() == 0, "and its buffer freed");
            assertEquals(1, s.server.connectionsTimedOut());
        }
    }

    @Test
    void connectionsPastTheLimitAreClosedAtOnce() throws Exception {
        try (TestServer s = server(NbdServer.Limits.defaults().withMaxConnections(3))) {
            List<RawNbd> held = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) held.add(new RawNbd(s.socket()).greet());
                try (RawNbd extra = new RawNbd(s.socket())) {
                    assertThrows(EOFException.class, () -> extra.read(18), "no greeting past the limit");
                }
                assertEquals(1, s.server.connectionsRefused());
                held.removeFirst().close();
                awaitTrue(() -> s.server.activeConnections() == 2, "the closed one is gone");
                try (RawNbd next = new RawNbd(s.socket()).greet().go("ro", false, false)) {
                    next.request(0, Nbd.CMD_READ, 1, 0, 4096, null);
                    assertEquals(0, next.reply(4096).error(), "a freed slot serves again");
                }
            } finally {
                for (RawNbd c : held) c.close();
            }
        }
    }

    @Test
    void clientsThatDoNotReadTheirRepliesCannotHoldTheServerWideBudget() throws Exception {
        long budget = 64L << 20;
        try (TestServer s = server(NbdServer.Limits.defaults().withIdleTimeout(SECOND).withInFlight(budget, 4096))) {
            byte[] image = Files.readAllBytes(dir.resolve("ro.img"));
            List<RawNbd> hogs = new ArrayList<>();
            try {
                // Four clients ask for 2 x 32 MiB each and never read: 256 MiB wanted, 64 MiB allowed.
                for (int i = 0; i < 4; i++) {
                    RawNbd h = new RawNbd(s.socket()).greet().go("ro", false, false);
                    h.request(0, Nbd.CMD_READ, 1, 0, 32 << 20, null);
                    h.request(0, Nbd.CMD_READ, 2, 32 << 20, 32 << 20, null);
                    hogs.add(h);
                }
                long peak = 0;
                for (int i = 0; i < 20; i++) {
                    peak = Math.max(peak, s.server.bytesInFlight());
                    Thread.sleep(25);
                }
                assertTrue(peak <= budget, "bytes in flight " + peak + " stay within the server-wide " + budget);
                // A well-behaved client is served: at once if there is room, or once the hogs are dropped.
                try (RawNbd good = new RawNbd(s.socket()).greet().go("ro", false, false)) {
                    good.request(0, Nbd.CMD_READ, 7, 1 << 20, 65536, null);
                    RawNbd.Reply r = good.reply(65536);
                    assertEquals(0, r.error());
                    assertArrayEquals(Arrays.copyOfRange(image, 1 << 20, (1 << 20) + 65536), r.payload());
                }
                awaitTrue(() -> s.server.connectionsTimedOut() >= 1, "a client that reads no reply is dropped");
                awaitTrue(() -> s.server.bytesInFlight() <= budget / 2, "their buffers come back");
            } finally {
                for (RawNbd h : hogs) h.close();
            }
        }
    }

    @Test
    void requestsInFlightAreCappedAcrossConnectionsAndAllAreAnswered() throws Exception {
        Path image = TestFiles.random(dir.resolve("slow.img"), 1 << 20, 8);
        byte[] content = Files.readAllBytes(image);
        // Every request takes 300 ms: without the cap, 3 x 8 would be in flight at once.
        var slow = new io.bmcast.storage.FaultInjectingExport(new io.bmcast.storage.FileExport("slow", "slow", image, true),
                io.bmcast.storage.FaultInjectingExport.Faults.none().withSpikes(1, java.time.Duration.ofMillis(300)));
        try (TestServer s = TestServer.on(dir).export("slow", slow)
                .limits(NbdServer.Limits.defaults().withInFlight(64L << 20, 4)).start()) {
            List<RawNbd> clients = new ArrayList<>();
            try {
                for (int c = 0; c < 3; c++) {
                    RawNbd r = new RawNbd(s.socket()).greet().go("slow", false, false);
                    for (int i = 0; i < 8; i++) r.request(0, Nbd.CMD_READ, i, 4096L * (8 * c + i), 4096, null);
                    clients.add(r);
                }
                int peak = 0;
                for (int i = 0; i < 40; i++) {
                    peak = Math.max(peak, s.server.budget().requests());
                    Thread.sleep(25);
                }
                assertTrue(peak <= 4, "at most 4 requests in flight across the server, saw " + peak);
                for (int c = 0; c < 3; c++) {
                    for (int i = 0; i < 8; i++) {
                        RawNbd.Reply r = clients.get(c).reply(4096);
                        assertEquals(0, r.error());
                        int off = (int) (4096 * (8 * c + r.cookie()));
                        assertArrayEquals(Arrays.copyOfRange(content, off, off + 4096), r.payload(), "reply " + r.cookie());
                    }
                }
            } finally {
                for (RawNbd c : clients) c.close();
            }
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 30 * SECOND;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within 30 s: " + what);
            Thread.sleep(20);
        }
    }
}

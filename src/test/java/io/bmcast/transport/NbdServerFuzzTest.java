package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.testing.RawNbd;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property: whatever bytes a client sends — random noise, a mutated handshake, a stream of random
 * requests — the server answers or disconnects that client, stays up, serves a well-formed client
 * afterwards, and holds no connection and no buffer once the clients are gone.
 */
@Timeout(300)
class NbdServerFuzzTest {
    private static final int SIZE = 1 << 20;
    private static final int ROUNDS = Integer.getInteger("bmcast.fuzz.rounds", 600);

    @TempDir
    Path dir;

    @Test
    void randomAndMutatedStreamsNeverHurtTheServer() throws Exception {
        long seed = Long.getLong("bmcast.fuzz.seed", System.nanoTime());
        System.out.println("fuzz seed " + seed + " (rerun with -Dbmcast.fuzz.seed=" + seed + ")");
        Random rnd = new Random(seed);
        Path ro = TestFiles.random(dir.resolve("ro.img"), SIZE, 31);
        Path rw = TestFiles.random(dir.resolve("rw.img"), SIZE, 32);
        long baseline = NbdServer.nativeBufferBytes();
        try (TestServer s = TestServer.on(dir).file("ro", ro, false).file("rw", rw, true).start()) {
            for (int round = 0; round < ROUNDS; round++) {
                byte[] stream = switch (round % 3) {
                    case 0 -> noise(rnd);
                    case 1 -> mutate(rnd, handshake(rnd));
                    default -> null;
                };
                try {
                    if (stream != null) {
                        blast(s.socket(), stream, round % 6 == 1);
                    } else {
                        requests(s.socket(), rnd);
                    }
                } catch (IOException e) {
                    // the server hung up on us: allowed
                }
            }
            // The server is still up and serves a well-formed client correctly.
            try (RawNbd c = new RawNbd(s.socket()).greet().go("ro", true, true)) {
                c.request(0, Nbd.CMD_READ, 1, 4096, 8192, null);
                var r = c.reply(8192);
                assertEquals(0, r.error());
                assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(ro), 4096, 4096 + 8192),
                        Arrays.copyOfRange(r.payload(), 8, r.payload().length));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (s.server.activeConnections() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
            assertEquals(0, s.server.activeConnections(), "every fuzzed connection was closed");
            // A FUA write's fdatasync may still be finishing on a busy disk: its buffer comes back then.
            while (NbdServer.nativeBufferBytes() > baseline && System.nanoTime() < deadline) Thread.sleep(20);
            assertTrue(NbdServer.nativeBufferBytes() <= baseline, "no buffer leaked: " + NbdServer.nativeBufferBytes());
            System.gc();
            Runtime rt = Runtime.getRuntime();
            assertTrue(rt.totalMemory() - rt.freeMemory() < 256L << 20, "heap stays small");
            assertTrue(s.server.connectionsAccepted() >= ROUNDS);
        }
    }

    private static byte[] noise(Random rnd) {
        byte[] b = new byte[rnd.nextInt(2048)];
        rnd.nextBytes(b);
        if (b.length >= 4 && rnd.nextBoolean()) ByteBuffer.wrap(b).putInt(0, Nbd.FLAG_C_FIXED_NEWSTYLE);
        return b;
    }

    /** A plausible option stream: flags, a few options (some odd), then GO or EXPORT_NAME. */
    private static byte[] handshake(Random rnd) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        b.putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        int n = rnd.nextInt(6);
        for (int i = 0; i < n; i++) {
            int opt = rnd.nextInt(13);
            byte[] p = switch (opt) {
                case Nbd.OPT_INFO, Nbd.OPT_GO -> info(rnd.nextBoolean() ? "ro" : "nope");
                case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> meta("rw", rnd.nextBoolean() ? "base:" : "base:allocation");
                case Nbd.OPT_EXPORT_NAME -> "rw".getBytes(StandardCharsets.UTF_8);
                default -> new byte[rnd.nextInt(3) == 0 ? rnd.nextInt(64) : 0];
            };
            b.putLong(Nbd.IHAVEOPT).putInt(opt).putInt(p.length).put(p);
        }
        byte[] go = info("rw");
        b.putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(go.length).put(go);
        for (int i = 0; i < 4; i++) {
            b.putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_READ)
                    .putLong(i).putLong(i * 4096L).putInt(4096);
        }
        out.write(b.array(), 0, b.position());
        return out.toByteArray();
    }

    private static byte[] info(String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + n.length + 4).putInt(n.length).put(n).putShort((short) 1)
                .putShort((short) Nbd.INFO_NAME).array();
    }

    private static byte[] meta(String name, String query) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] q = query.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(12 + n.length + q.length).putInt(n.length).put(n).putInt(1).putInt(q.length).put(q).array();
    }

    /** Flips, overwrites with extreme values, truncates or duplicates parts of a stream. */
    private static byte[] mutate(Random rnd, byte[] in) {
        byte[] b = in.clone();
        int edits = 1 + rnd.nextInt(4);
        for (int i = 0; i < edits && b.length > 4; i++) {
            int at = rnd.nextInt(b.length);
            switch (rnd.nextInt(4)) {
                case 0 -> b[at] ^= (byte) (1 << rnd.nextInt(8));
                case 1 -> b[at] = (byte) (rnd.nextBoolean() ? 0xff : 0x00);
                case 2 -> {
                    if (at + 4 <= b.length) ByteBuffer.wrap(b).putInt(at, rnd.nextBoolean() ? -1 : rnd.nextInt());
                }
                default -> b = Arrays.copyOf(b, at);
            }
        }
        return b;
    }

    /** Random transmission requests after a proper handshake, some of them corrupted. */
    private static void requests(Path socket, Random rnd) throws IOException {
        boolean structured = rnd.nextBoolean();
        try (RawNbd c = new RawNbd(socket)) {
            c.greet().go(rnd.nextBoolean() ? "ro" : "rw", structured, structured && rnd.nextBoolean());
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            int n = 1 + rnd.nextInt(40);
            for (int i = 0; i < n && b.remaining() > 70_000; i++) {
                int type = rnd.nextInt(10);
                long length = switch (rnd.nextInt(6)) {
                    case 0 -> 0;
                    case 1 -> rnd.nextInt(65536);
                    case 2 -> 4096;
                    case 3 -> SIZE;
                    case 4 -> 0xffffffffL;
                    default -> Nbd.MAX_PAYLOAD + 1L;
                };
                long offset = switch (rnd.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> rnd.nextInt(SIZE);
                    case 2 -> SIZE - rnd.nextInt(8192);
                    default -> rnd.nextLong();
                };
                int flags = rnd.nextInt(3) == 0 ? rnd.nextInt(1 << 16) : 0;
                int magic = rnd.nextInt(20) == 0 ? rnd.nextInt() : Nbd.REQUEST_MAGIC;
                b.putInt(magic).putShort((short) flags).putShort((short) type).putLong(i).putLong(offset).putInt((int) length);
                if (type == Nbd.CMD_WRITE && length <= 65536) {
                    b.position(b.position() + (int) length);
                }
            }
            b.flip();
            c.ch.configureBlocking(false);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(150);
            ByteBuffer sink = ByteBuffer.allocate(1 << 16);
            while (System.nanoTime() < deadline) {
                if (b.hasRemaining()) c.ch.write(b);
                if (c.ch.read(sink.clear()) < 0) break;
                Thread.onSpinWait();
                if (!b.hasRemaining()) sleep(5);
            }
        }
    }

    /** Sends a stream and drains replies for a moment (or not at all), then hangs up. */
    private static void blast(Path socket, byte[] stream, boolean readFirst) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            if (readFirst) {
                ByteBuffer greet = ByteBuffer.allocate(18);
                while (greet.hasRemaining() && ch.read(greet) >= 0) {
                    // wait for the greeting
                }
            }
            ch.configureBlocking(false);
            ByteBuffer b = ByteBuffer.wrap(stream);
            ByteBuffer sink = ByteBuffer.allocate(1 << 16);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                if (b.hasRemaining()) ch.write(b);
                if (ch.read(sink.clear()) < 0) break;
                if (!b.hasRemaining()) sleep(5);
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

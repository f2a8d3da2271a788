package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.ClientTestProcesses.Server;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The client against real NBD servers: nbdkit and qemu-nbd on Unix sockets. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NbdClientTest {

    enum Peer { NBDKIT, QEMU_NBD }

    private ClientTestProcesses procs;

    @BeforeEach
    void setUp() throws IOException {
        procs = new ClientTestProcesses();
    }

    @AfterEach
    void tearDown() throws IOException {
        procs.close();
    }

    private Server serve(Peer peer, Path file, String... extra) throws IOException {
        return switch (peer) {
            case NBDKIT -> {
                List<String> a = new ArrayList<>(List.of(extra));
                a.addAll(List.of("file", file.toString()));
                yield procs.nbdkit(a.toArray(String[]::new));
            }
            case QEMU_NBD -> {
                List<String> a = new ArrayList<>(List.of(extra));
                a.addAll(List.of("-f", "raw", file.toString()));
                yield procs.qemuNbd(a.toArray(String[]::new));
            }
        };
    }

    private Path randomFile(String name, int size, long seed) throws IOException {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        Path p = procs.path(name);
        Files.write(p, b);
        return p;
    }

    private static NbdUri uri(Server s) {
        return NbdUri.unix(s.socket(), "");
    }

    private static byte[] read(NbdClient c, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        c.read(offset, b);
        assertFalse(b.hasRemaining());
        return b.array();
    }

    @ParameterizedTest
    @EnumSource(Peer.class)
    void readWriteFlushTrimZeroRoundTrip(Peer peer) throws Exception {
        int size = 8 << 20;
        Path file = randomFile("disk.img", size, 1);
        byte[] expected = Files.readAllBytes(file);
        Server s = serve(peer, file);
        try (NbdClient c = NbdClient.connect(uri(s))) {
            ExportInfo info = c.info();
            assertEquals(size, c.size());
            assertFalse(info.readOnly());
            assertTrue(info.structuredReplies(), "both peers speak structured replies");
            assertTrue(info.canBlockStatus());

            assertArrayEquals(expected, read(c, 0, size));
            assertArrayEquals(Arrays.copyOfRange(expected, 4096 + 512, 4096 + 512 + 70_000), read(c, 4096 + 512, 70_000));

            // Write from a direct buffer and a heap slice with an offset: both are windows of the caller's buffer.
            byte[] data = new byte[200_000];
            new Random(2).nextBytes(data);
            ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data).flip();
            c.write(1 << 20, direct, true);
            assertFalse(direct.hasRemaining());
            System.arraycopy(data, 0, expected, 1 << 20, data.length);
            ByteBuffer slice = ByteBuffer.wrap(data, 1000, 4096);
            c.write(3 << 20, slice, false);
            assertEquals(1000 + 4096, slice.position());
            System.arraycopy(data, 1000, expected, 3 << 20, 4096);
            c.flush();
            assertArrayEquals(expected, Files.readAllBytes(file), "the file holds what was written");

            c.writeZeroes(5 << 20, 1 << 20, false, false, true);
            Arrays.fill(expected, 5 << 20, 6 << 20, (byte) 0);
            c.writeZeroes(6 << 20, 65536, true, false, false);
            Arrays.fill(expected, 6 << 20, (6 << 20) + 65536, (byte) 0);
            if (info.canTrim()) {
                c.trim(7 << 20, 1 << 20, false);
                // After TRIM the contents are unspecified: take whatever the server now says.
                System.arraycopy(read(c, 7 << 20, 1 << 20), 0, expected, 7 << 20, 1 << 20);
            }
            c.cache(0, 1 << 20);
            c.flush();
            assertArrayEquals(expected, read(c, 0, size));
            assertArrayEquals(expected, Files.readAllBytes(file));

            NbdException outside = assertThrows(NbdException.class, () -> c.read(size - 10, ByteBuffer.allocate(20)));
            assertEquals(Nbd.EINVAL, outside.error());
            assertEquals(0, c.reconnects());
        }
    }

    @ParameterizedTest
    @EnumSource(Peer.class)
    void manyConcurrentReadersGetTheirOwnBytes(Peer peer) throws Exception {
        int size = 32 << 20;
        Path file = randomFile("disk.img", size, 3);
        byte[] expected = Files.readAllBytes(file);
        Server s = serve(peer, file);
        try (NbdClient c = NbdClient.connect(uri(s), NbdClient.Options.defaults().maxInFlight(16));
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 64; t++) {
                long seed = t;
                results.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    int checked = 0;
                    for (int i = 0; i < 100; i++) {
                        int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 4096 : 300_000);
                        int off = rnd.nextInt(size - len);
                        ByteBuffer b = rnd.nextBoolean() ? ByteBuffer.allocate(len) : ByteBuffer.allocateDirect(len);
                        c.read(off, b);
                        b.flip();
                        byte[] got = new byte[len];
                        b.get(got);
                        if (!Arrays.equals(expected, off, off + len, got, 0, len)) {
                            throw new AssertionError("wrong bytes at " + off + "+" + len);
                        }
                        checked++;
                    }
                    return checked;
                }));
            }
            int total = 0;
            for (Future<Integer> f : results) total += f.get(100, TimeUnit.SECONDS);
            assertEquals(6400, total);
            assertEquals(0, c.reconnects());
            assertEquals(0, c.status().inFlight());
        }
    }

    /** 64 MiB, data at [0, 1M) and [16M, 18M), a hole everywhere else. */
    private Path sparseFile() throws IOException {
        Path p = procs.path("sparse.img");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(64 << 20);
            byte[] data = new byte[1 << 20];
            new Random(4).nextBytes(data);
            f.seek(0);
            f.write(data);
            f.seek(16 << 20);
            f.write(data);
            f.write(data);
        }
        return p;
    }

    @ParameterizedTest
    @EnumSource(Peer.class)
    void blockStatusFindsTheHolesOfASparseFile(Peer peer) throws Exception {
        Path file = sparseFile();
        byte[] expected = Files.readAllBytes(file);
        Server s = serve(peer, file);
        try (NbdClient c = NbdClient.connect(uri(s))) {
            assertTrue(c.info().canBlockStatus());
            // Walk the whole export as a mediator would: ask, advance by what was described.
            List<long[]> extents = new ArrayList<>();
            long pos = 0;
            while (pos < c.size()) {
                long start = pos;
                long described = c.blockStatus(pos, c.size() - pos, (len, flags) -> {
                    extents.add(new long[] {start + sum(extents, start), len, flags});
                    return true;
                });
                assertTrue(described > 0);
                pos += described;
            }
            assertEquals(c.size(), pos);
            long holeBytes = 0;
            for (long[] e : extents) {
                boolean hole = (e[2] & Nbd.STATE_HOLE) != 0;
                if (hole) {
                    holeBytes += e[1];
                    assertTrue((e[2] & Nbd.STATE_ZERO) != 0, "a hole reads as zeros");
                    assertFalse(overlaps(e[0], e[1], 0, 1 << 20) || overlaps(e[0], e[1], 16 << 20, 2 << 20),
                            "hole " + e[0] + "+" + e[1] + " over data");
                }
            }
            // File systems may round holes to their own granularity, but most of the 61 MiB are holes.
            assertTrue(holeBytes >= 56L << 20, "hole bytes " + holeBytes);
            assertTrue(isHole(extents, 4 << 20) && isHole(extents, 40 << 20) && !isHole(extents, 17 << 20));

            // Reads over holes (sent as OFFSET_HOLE or zeros) and data agree with the file.
            assertArrayEquals(expected, read(c, 0, expected.length));
            assertArrayEquals(Arrays.copyOfRange(expected, (1 << 20) - 100, (17 << 20) + 100), read(c, (1 << 20) - 100, (16 << 20) + 200));
        }
    }

    private static long sum(List<long[]> extents, long from) {
        long s = 0;
        for (long[] e : extents) if (e[0] >= from) s += e[1];
        return s;
    }

    private static boolean overlaps(long a, long alen, long b, long blen) {
        return a < b + blen && b < a + alen;
    }

    private static boolean isHole(List<long[]> extents, long at) {
        for (long[] e : extents) if (e[0] <= at && at < e[0] + e[1]) return (e[2] & Nbd.STATE_HOLE) != 0;
        throw new AssertionError("no extent covers " + at);
    }

    @Test
    void serverErrorsSurfaceAsEioAndTheConnectionKeepsWorking() throws Exception {
        Path file = randomFile("disk.img", 4 << 20, 5);
        byte[] expected = Files.readAllBytes(file);
        Path trigger = procs.path("fail-reads");
        Server s = procs.nbdkit("--filter=error", "file", file.toString(),
                "error-pread=EIO", "error-pread-rate=100%", "error-pread-file=" + trigger);
        try (NbdClient c = NbdClient.connect(uri(s))) {
            assertArrayEquals(Arrays.copyOf(expected, 1 << 20), read(c, 0, 1 << 20));
            Files.createFile(trigger);
            for (int i = 0; i < 3; i++) {
                NbdException e = assertThrows(NbdException.class, () -> read(c, 4096, 65536));
                assertEquals(Nbd.EIO, e.error(), e.getMessage());
            }
            Files.delete(trigger);
            assertArrayEquals(Arrays.copyOfRange(expected, 4096, 4096 + 65536), read(c, 4096, 65536));
            assertTrue(c.connected());
            assertEquals(0, c.reconnects(), "an error reply is not a reason to reconnect");
        }
    }

    @Test
    void simpleRepliesWhenTheServerRefusesStructuredReplies() throws Exception {
        // nbdkit --no-sr: no structured replies, hence no block status either; everything else works.
        Path file = randomFile("disk.img", 2 << 20, 6);
        byte[] expected = Files.readAllBytes(file);
        Path trigger = procs.path("fail-reads");
        Server s = procs.nbdkit("--no-sr", "--filter=error", "file", file.toString(),
                "error-pread=EIO", "error-pread-rate=100%", "error-pread-file=" + trigger);
        try (NbdClient c = NbdClient.connect(uri(s))) {
            assertFalse(c.info().structuredReplies());
            assertFalse(c.info().canBlockStatus());
            assertArrayEquals(expected, read(c, 0, expected.length));
            List<Long> lengths = new ArrayList<>();
            assertEquals(1 << 20, c.blockStatus(0, 1 << 20, (len, flags) -> lengths.add(len) && flags == 0));
            assertEquals(List.of(1L << 20), lengths, "without base:allocation the range is reported as data");
            Files.createFile(trigger);
            assertEquals(Nbd.EIO, assertThrows(NbdException.class, () -> read(c, 0, 4096)).error());
            Files.delete(trigger);
            assertArrayEquals(Arrays.copyOf(expected, 4096), read(c, 0, 4096));
        }
    }

    @Test
    void oldServersGetExportName() throws Exception {
        // --mask-handshake=0: the server does not even say fixed newstyle, so only EXPORT_NAME is possible.
        Path file = randomFile("disk.img", 1 << 20, 7);
        Server s = procs.nbdkit("--mask-handshake=0", "file", file.toString());
        try (NbdClient c = NbdClient.connect(uri(s))) {
            assertEquals(1 << 20, c.size());
            assertFalse(c.info().structuredReplies(), "not fixed newstyle: no options but EXPORT_NAME");
            assertArrayEquals(Files.readAllBytes(file), read(c, 0, 1 << 20));
        }
    }

    @Test
    void listsExportsAndOpensThemByName() throws Exception {
        Path dir = procs.path("images");
        Files.createDirectory(dir);
        for (String n : List.of("alpha", "beta", "gamma")) Files.write(dir.resolve(n + ".img"), new byte[65536 * (n.length())]);
        Server kit = procs.nbdkit("file", "dir=" + dir);
        List<String> names = NbdClient.list(new Endpoint.Unix(kit.socket())).stream().map(NbdClient.ListedExport::name).sorted().toList();
        assertEquals(List.of("alpha.img", "beta.img", "gamma.img"), names);
        try (NbdClient c = NbdClient.connect(NbdUri.unix(kit.socket(), "gamma.img"))) {
            assertEquals(65536 * 5, c.size());
        }

        Path file = randomFile("named.img", 1 << 20, 8);
        Server q = procs.qemuNbd("-x", "debian-12", "-D", "Debian 12 base image", "-f", "raw", file.toString());
        List<NbdClient.ListedExport> listed = NbdClient.list(new Endpoint.Unix(q.socket()));
        assertEquals(List.of(new NbdClient.ListedExport("debian-12", "Debian 12 base image")), listed);
        try (NbdClient c = NbdClient.connect(NbdUri.parse("nbd+unix:///debian-12?socket=" + q.socket()))) {
            assertEquals("Debian 12 base image", c.info().description());
            assertArrayEquals(Files.readAllBytes(file), read(c, 0, 1 << 20));
        }
        NbdOptionException unknown = assertThrows(NbdOptionException.class, () -> NbdClient.connect(NbdUri.unix(q.socket(), "nope")));
        assertEquals(Nbd.REP_ERR_UNKNOWN, unknown.replyType(), unknown.getMessage());
    }

    @Test
    void readOnlyExportsRefuseWritesLocally() throws Exception {
        Path file = randomFile("disk.img", 1 << 20, 9);
        Server s = procs.nbdkit("-r", "file", file.toString());
        try (NbdClient c = NbdClient.connect(uri(s))) {
            assertTrue(c.info().readOnly());
            assertEquals(Nbd.EPERM, assertThrows(NbdException.class, () -> c.write(0, ByteBuffer.allocate(512), false)).error());
            assertEquals(Nbd.EPERM, assertThrows(NbdException.class, () -> c.writeZeroes(0, 512, false, false, false)).error());
        }
    }

    @ParameterizedTest
    @EnumSource(Peer.class)
    void survivesServerKillAndRestartMidStream(Peer peer) throws Exception {
        int size = 16 << 20;
        Path file = randomFile("disk.img", size, 10);
        byte[] expected = Files.readAllBytes(file);
        Server s = serve(peer, file);
        NbdClient.Options opts = NbdClient.Options.defaults().giveUpAfter(Duration.ofSeconds(30));
        try (NbdClient c = NbdClient.connect(uri(s), opts);
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong reads = new AtomicLong();
            List<Future<?>> readers = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                long seed = 100 + t;
                readers.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    while (!stop.get()) {
                        int len = 1 + rnd.nextInt(1 << 20);
                        int off = rnd.nextInt(size - len);
                        byte[] got = read(c, off, len);
                        if (!Arrays.equals(expected, off, off + len, got, 0, len)) throw new AssertionError("wrong bytes at " + off + "+" + len);
                        reads.incrementAndGet();
                    }
                    return null;
                }));
            }
            Thread.sleep(700);
            long before = reads.get();
            assertTrue(before > 0, "reads flowing before the kill");
            procs.kill9(s);
            Thread.sleep(1500);
            assertFalse(c.connected());
            NbdClient.Status down = c.status();
            assertTrue(down.disconnectedFor().toMillis() >= 1000, down.toString());
            s = procs.restart(s);
            Thread.sleep(1500);
            stop.set(true);
            for (Future<?> f : readers) f.get(60, TimeUnit.SECONDS); // any wrong byte or failure throws here
            assertTrue(c.connected());
            assertTrue(c.reconnects() >= 1);
            assertTrue(reads.get() > before, "reads completed after the restart");
        }
    }

    @Test
    void writesInFlightAreResentAfterARestart() throws Exception {
        int size = 8 << 20;
        Path file = randomFile("disk.img", size, 11);
        byte[] expected = Files.readAllBytes(file);
        Server s = procs.nbdkit("--filter=delay", "file", file.toString(), "delay-write=300ms");
        try (NbdClient c = NbdClient.connect(uri(s));
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> writers = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int off = t << 20;
                byte[] data = new byte[1 << 20];
                new Random(200 + t).nextBytes(data);
                System.arraycopy(data, 0, expected, off, data.length);
                writers.add(pool.submit(() -> {
                    c.write(off, ByteBuffer.wrap(data), false);
                    return null;
                }));
            }
            Thread.sleep(100);
            procs.kill9(s);
            Thread.sleep(500);
            procs.restart(s);
            for (Future<?> f : writers) f.get(60, TimeUnit.SECONDS);
            c.flush();
            assertArrayEquals(expected, Files.readAllBytes(file));
            assertTrue(c.reconnects() >= 1);
        }
    }

    @Test
    void giveUpWhenTheServerNeverComesBack() throws Exception {
        Path file = randomFile("disk.img", 1 << 20, 12);
        byte[] expected = Files.readAllBytes(file);
        Server s = procs.nbdkit("file", file.toString());
        NbdClient.Options opts = NbdClient.Options.defaults().giveUpAfter(Duration.ofSeconds(1));
        try (NbdClient c = NbdClient.connect(uri(s), opts)) {
            assertArrayEquals(expected, read(c, 0, 1 << 20));
            procs.kill9(s);
            long t0 = System.nanoTime();
            NbdException e = assertThrows(NbdException.class, () -> read(c, 0, 4096));
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(Nbd.EIO, e.error(), e.getMessage());
            assertTrue(waited < 10_000, "gave up after " + waited + " ms");
            // Past the give-up time, new requests fail at once.
            long t1 = System.nanoTime();
            assertEquals(Nbd.EIO, assertThrows(NbdException.class, () -> read(c, 0, 4096)).error());
            assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1) < 500);
            assertFalse(c.connected());
            // The client keeps trying in the background: a late server is picked up again.
            procs.restart(s);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!c.connected() && System.nanoTime() < deadline) Thread.sleep(50);
            assertArrayEquals(expected, read(c, 0, 1 << 20));
        }
    }

    @Test
    void aServerThatStopsAnsweringIsDroppedAndRequestsFail() throws Exception {
        Path file = randomFile("disk.img", 1 << 20, 13);
        Server s = procs.nbdkit("--filter=delay", "file", file.toString(), "delay-read=100");
        NbdClient.Options opts = NbdClient.Options.defaults()
                .giveUpAfter(Duration.ofSeconds(1)).stallTimeout(Duration.ofMillis(500));
        try (NbdClient c = NbdClient.connect(uri(s), opts)) {
            long t0 = System.nanoTime();
            NbdException e = assertThrows(NbdException.class, () -> read(c, 0, 4096));
            assertEquals(Nbd.EIO, e.error(), e.getMessage());
            assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) < 20);
            c.flush(); // other commands still work on the (new) connection
        }
    }

    @Test
    void overTcp() throws Exception {
        Path file = randomFile("disk.img", 1 << 20, 14);
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        procs.startTcp(port, "nbdkit", "-f", "--exit-with-parent", "-i", "127.0.0.1", "-p", Integer.toString(port), "file", file.toString());
        try (NbdClient c = NbdClient.connect(NbdUri.parse("nbd://127.0.0.1:" + port + "/"))) {
            assertArrayEquals(Files.readAllBytes(file), read(c, 0, 1 << 20));
        }
        assertEquals(1, NbdClient.list(Endpoint.parse("127.0.0.1:" + port)).size());
    }

    @Test
    void listTimesOutOnASilentServer() throws Exception {
        Path sock = procs.path("silent.sock");
        try (java.nio.channels.ServerSocketChannel silent = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)
                .bind(java.net.UnixDomainSocketAddress.of(sock))) {
            IOException e = assertThrows(IOException.class, () -> NbdClient.list(new Endpoint.Unix(sock), Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains("timed out"), e.getMessage());
            NbdClient.Options opts = NbdClient.Options.defaults().connectTimeout(Duration.ofMillis(300));
            IOException e2 = assertThrows(IOException.class, () -> NbdClient.connect(NbdUri.unix(sock, ""), opts));
            assertTrue(e2.getMessage().contains("timed out"), e2.getMessage());
        }
    }
}

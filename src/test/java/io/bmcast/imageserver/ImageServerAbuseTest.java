package io.bmcast.imageserver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.protocol.Nbd;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.RawNbd;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast image-server} as its own process, on its default limits, under a crowd of 1000 connections:
 * 900 idle after the handshake, 50 trickling a 64 KiB option, 50 sending random bytes, one request
 * trickled a byte at a time (the well-behaved clients come on top, within the default limit of 1024). A well-behaved client (nbdcopy, nbdinfo) is served correctly throughout, the
 * trickled request is answered, and the server's peak resident memory (VmHWM) stays under 256 MiB.
 */
class ImageServerAbuseTest {
    private static final long MIB = 1L << 20;
    /**
     * The issue asks for under 512 MiB; we hold half of that, so that a per-connection cost creeping back
     * fails here: with a 256 KiB input buffer per idle connection this crowd took 358 MiB.
     */
    private static final long RSS_BOUND = 256 * MIB;

    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void aThousandIdleAndTricklingClientsNeitherStarveAWellBehavedOneNorBlowTheMemory() throws Exception {
        Tools.assume("nbdcopy", "nbdinfo");
        Path images = Files.createDirectories(tmp.resolve("images"));
        Path image = TestFiles.random(images.resolve("disk.img"), 64 * MIB, 41);
        byte[] content = Files.readAllBytes(image);
        List<RawNbd> crowd = new ArrayList<>();
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path sock = procs.path("images.sock");
            // Defaults but the handshake deadline: the trickling clients must still be there while we look.
            var server = procs.bmcastOn(sock, "image-server", "--dir", images.toString(), "--socket", sock.toString(),
                    "--handshake-timeout", "120s");
            long pid = server.process().pid();
            try {
                for (int i = 0; i < 900; i++) {
                    try {
                        crowd.add(new RawNbd(sock).greet().go("disk", i % 2 == 0, false));
                    } catch (IOException e) {
                        throw new AssertionError("client " + i + " of the crowd was refused: " + e + "\n" + serverLog(procs), e);
                    }
                }
                for (int i = 0; i < 50; i++) {
                    RawNbd c = new RawNbd(sock).greet();
                    c.write(ByteBuffer.allocate(17).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(Nbd.MAX_OPTION_LENGTH)
                            .put((byte) 0).flip());
                    crowd.add(c);
                }
                Random rnd = new Random(3);
                for (int i = 0; i < 50; i++) {
                    RawNbd c = new RawNbd(sock);
                    byte[] noise = new byte[1 + rnd.nextInt(4096)];
                    rnd.nextBytes(noise);
                    try {
                        c.write(ByteBuffer.wrap(noise));
                    } catch (IOException e) {
                        // the server hung up first: allowed
                    }
                    crowd.add(c);
                }
                // One READ header, a byte every 40 ms, answered once complete.
                RawNbd slow = new RawNbd(sock).greet().go("disk", false, false);
                crowd.add(slow);
                CompletableFuture<byte[]> trickled = CompletableFuture.supplyAsync(() -> {
                    try {
                        ByteBuffer h = ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) 0)
                                .putShort((short) Nbd.CMD_READ).putLong(42).putLong(5 * MIB).putInt(65536).flip();
                        while (h.hasRemaining()) {
                            slow.write(h.slice(h.position(), 1));
                            h.position(h.position() + 1);
                            Thread.sleep(40);
                        }
                        RawNbd.Reply r = slow.reply(65536);
                        if (r.error() != 0 || r.cookie() != 42) throw new AssertionError("trickled read: " + r);
                        return r.payload();
                    } catch (IOException | InterruptedException e) {
                        throw new RuntimeException(e);
                    }
                });

                // The well-behaved clients, while the crowd holds its connections.
                String uri = NbdUri.unix(sock, "disk").toString();
                Tools.run(Duration.ofSeconds(60), "nbdinfo", "--size", uri).requireSuccess("nbdinfo during the crowd");
                Path copy = tmp.resolve("copy.img");
                Tools.run(Duration.ofSeconds(120), "nbdcopy", uri, copy.toString()).requireSuccess("nbdcopy during the crowd");
                assertEquals(-1, TestFiles.firstDifference(image, copy), "nbdcopy read the image exactly");
                assertArrayEquals(Arrays.copyOfRange(content, (int) (5 * MIB), (int) (5 * MIB) + 65536),
                        trickled.get(), "the trickled request got the right bytes");
                // Some of the crowd's idle clients are still served too.
                RawNbd first = crowd.get(1);
                first.request(0, Nbd.CMD_READ, 9, 0, 4096, null);
                assertEquals(0, first.reply(4096).error(), "an idle client of the crowd is still served");

                long hwm = vmHwm(pid);
                System.out.printf("image-server with %d clients connected: peak RSS (VmHWM) %d MiB%n", crowd.size(), hwm / MIB);
                assertTrue(hwm < RSS_BOUND, "peak RSS " + hwm / MIB + " MiB, bound " + RSS_BOUND / MIB + " MiB");
            } finally {
                for (RawNbd c : crowd) c.close();
            }
            int rc = procs.stop(server); // exits on SIGTERM (143: the JVM's code for it)
            assertTrue(rc == 0 || rc == 143, "the server exits on SIGTERM after the crowd: " + rc);
            assertTrue(!Files.exists(sock), "and removes its socket");
        }
    }

    private static String serverLog(ClientTestProcesses procs) throws IOException {
        StringBuilder b = new StringBuilder();
        try (var files = Files.list(procs.dir())) {
            for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".log")).toList()) {
                List<String> lines = Files.readAllLines(f);
                b.append(String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
            }
        }
        return b.toString();
    }

    /** Peak resident set size of process {@code pid}, in bytes. */
    static long vmHwm(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        throw new IOException("no VmHWM in /proc/" + pid + "/status");
    }
}

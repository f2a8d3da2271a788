package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.storage.FaultInjectingExport;
import io.bmcast.storage.FaultInjectingExport.Faults;
import io.bmcast.storage.FileExport;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mediator ({@code bmcast node}) streaming from an image server that fails, lags and stalls on purpose
 * ({@link FaultInjectingExport}): the client of the mediator sees delays, never wrong data, and an I/O
 * error only when the image server has failed a read for the whole give-up time.
 */
class FlakyImageServerTest {
    private static final long MIB = 1L << 20;
    private static final Duration T = Duration.ofSeconds(120);
    private static final Duration GIVE_UP = Duration.ofSeconds(3);

    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void guestsSeeDelaysNeverWrongDataAndEioOnlyAfterTheGiveUpTime() throws Exception {
        Tools.assume("nbdsh", "nbdcopy");
        Path image = TestFiles.random(tmp.resolve("image.raw"), 16 * MIB, 23);
        Path extents = tmp.resolve("extents.json");
        Files.writeString(extents, "{\"size\": " + 16 * MIB + ", \"extents\": [[0, " + 16 * MIB + "]]}");
        // One export per kind of trouble, all over the same file.
        var flaky = new FaultInjectingExport(new FileExport("flaky", "flaky", image, true),
                Faults.none().withErrors(0.2).withSpikes(0.05, Duration.ofMillis(300)).withSeed(7));
        var broken = new FaultInjectingExport(new FileExport("broken", "broken", image, true), Faults.none().withErrors(1));
        var stalled = new FaultInjectingExport(new FileExport("stalled", "stalled", image, true),
                Faults.none().withStall(Duration.ZERO, Duration.ofSeconds(6)));
        try (ClientTestProcesses procs = new ClientTestProcesses();
             TestServer images = TestServer.on(Files.createDirectories(tmp.resolve("srv")))
                     .export("flaky", flaky).export("broken", broken).export("stalled", stalled).start()) {

            // 1. 20% of the image server's answers are EIO, 5% come 300 ms late: every byte still arrives intact.
            Path sock = procs.path("flaky.sock");
            var node = procs.bmcastOn(sock, NodeFixture.args(NbdUri.unix(images.socket(), "flaky"), tmp.resolve("flaky.img"),
                    tmp.resolve("flaky.state"), sock, "--give-up", "60s", "--region-size", "256K").toArray(String[]::new));
            Path copy = tmp.resolve("copy.raw");
            Tools.run(T, "nbdcopy", NbdUri.unix(sock, "").toString(), copy.toString()).requireSuccess("nbdcopy through the node");
            assertEquals(-1, TestFiles.firstDifference(image, copy), "every byte read through the node is the image's");
            assertTrue(flaky.errorsInjected() > 5, "the image server failed reads: " + flaky.errorsInjected());
            assertTrue(flaky.spikesInjected() > 0, "the image server answered late: " + flaky.spikesInjected());
            assertEquals(0, procs.stop(node));

            // 2. An image server that fails every read: EIO, but not before the give-up time.
            sock = procs.path("broken.sock");
            node = procs.bmcastOn(sock, NodeFixture.args(NbdUri.unix(images.socket(), "broken"), tmp.resolve("broken.img"),
                    tmp.resolve("broken.state"), sock, "--give-up", GIVE_UP.toSeconds() + "s", "--hydrate-rate", "64KiB/s",
                    "--source-extents", extents.toString()).toArray(String[]::new));
            String[] r = timedRead(NbdUri.unix(sock, "").toString(), 4 * MIB);
            assertEquals("ERRNO 5", r[0], "a read the image server keeps failing ends in EIO");
            double seconds = Double.parseDouble(r[1]);
            assertTrue(seconds >= GIVE_UP.toMillis() / 1000.0, "EIO came after " + seconds + " s, before the give-up time " + GIVE_UP);
            assertTrue(broken.errorsInjected() > 3, "the read was retried: " + broken.errorsInjected() + " attempts");
            assertEquals(0, procs.stop(node));

            // 3. An image server that answers nothing for 6 s: a delay, then the right bytes.
            sock = procs.path("stalled.sock");
            node = procs.bmcastOn(sock, NodeFixture.args(NbdUri.unix(images.socket(), "stalled"), tmp.resolve("stalled.img"),
                    tmp.resolve("stalled.state"), sock, "--hydrate-rate", "64KiB/s",
                    "--source-extents", extents.toString()).toArray(String[]::new));
            r = timedRead(NbdUri.unix(sock, "").toString(), 8 * MIB);
            assertTrue(r[0].startsWith("SHA "), "a stalled image server only delays the read: " + r[0]);
            assertEquals(sha256(image, 8 * MIB), r[0].substring(4), "the bytes after the stall are the image's");
            assertTrue(stalled.requestsStalled() > 0, "the image server stalled");
            assertEquals(0, procs.stop(node));
            System.out.printf("flaky: %d errors and %d spikes injected, all hidden; broken: EIO after %s s (give-up %s s, %d attempts);"
                    + " stalled: read after %s s%n", flaky.errorsInjected(), flaky.spikesInjected(), seconds,
                    GIVE_UP.toSeconds(), broken.errorsInjected(), r[1]);
        }
    }

    /** Reads 64 KiB at {@code offset} with nbdsh: {"SHA hex" or "ERRNO n", seconds the read took}. */
    private static String[] timedRead(String uri, long offset) {
        Tools.Result res = Tools.nbdsh(T, uri, """
                import hashlib, time
                t = time.monotonic()
                try:
                    out = "SHA " + hashlib.sha256(h.pread(65536, %d)).hexdigest()
                except nbd.Error as e:
                    out = "ERRNO %%d" %% e.errnum
                print(out)
                print(time.monotonic() - t)
                """.formatted(offset));
        String[] lines = res.stdout().strip().split("\n");
        assertEquals(2, lines.length, "nbdsh: " + res.stdout() + res.stderr());
        return lines;
    }

    private static String sha256(Path file, long offset) throws Exception {
        byte[] all = Files.readAllBytes(file);
        var md = java.security.MessageDigest.getInstance("SHA-256");
        md.update(all, (int) offset, 65536);
        return java.util.HexFormat.of().formatHex(md.digest());
    }
}

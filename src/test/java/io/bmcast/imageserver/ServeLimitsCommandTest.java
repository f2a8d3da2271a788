package io.bmcast.imageserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.RawNbd;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import java.io.EOFException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The limit and fault-injection options of {@code serve-file}, as a user types them, against libnbd's tools. */
@Timeout(120)
class ServeLimitsCommandTest {
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void faultsAndLimitsTakeEffectAndBadValuesAreRefusedInOneLine() throws Exception {
        Tools.assume("nbdinfo", "nbdcopy");
        Path img = TestFiles.random(dir.resolve("disk.raw"), 4 << 20, 9);
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path sock = procs.path("s.sock");
            var server = procs.bmcastOn(sock, "serve-file", img.toString(), "--socket", sock.toString(),
                    "--inject-errors", "100%", "--max-connections", "2");
            String uri = "nbd+unix:///?socket=" + sock;
            // The handshake is not a request: nbdinfo works; every read fails.
            Tools.run(T, "nbdinfo", "--size", uri).requireSuccess("nbdinfo");
            Tools.Result copy = Tools.run(T, "nbdcopy", uri, dir.resolve("copy.raw").toString());
            assertNotEquals(0, copy.exitCode(), "nbdcopy fails on an export that fails every read");
            assertTrue(copy.stderr().contains("Input/output error"), copy.stderr());
            // Two connections held: a third is closed before the greeting. (nbdcopy's connections may take a
            // moment to be closed on the server side: wait until two fit again.)
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            RawNbd a = null;
            RawNbd b = null;
            try {
                while (b == null) {
                    try {
                        if (a == null) a = new RawNbd(sock).greet();
                        b = new RawNbd(sock).greet();
                    } catch (EOFException full) {
                        if (System.nanoTime() > deadline) throw full;
                        Thread.sleep(100);
                    }
                }
                try (RawNbd c = new RawNbd(sock)) {
                    assertThrows(EOFException.class, () -> c.read(18), "no greeting past --max-connections 2");
                }
            } finally {
                if (a != null) a.close();
                if (b != null) b.close();
            }
            procs.stop(server);
        }
        for (String[] bad : new String[][] {
                {"--inject-errors", "2", "'2' is not between 0 and 1"},
                {"--max-in-flight", "1M", "--max-in-flight must be at least 64M"},
                {"--handshake-timeout", "0s", "--handshake-timeout must be longer than 0s"},
                {"--inject-delay-rate", "5%", "--inject-delay-rate needs --inject-delay"}}) {
            Tools.Result r = Tools.run(T, ClientTestProcesses.bmcastCommand("serve-file", img.toString(), "--socket",
                    dir.resolve("x.sock").toString(), bad[0], bad[1]));
            assertEquals(2, r.exitCode(), bad[0] + " " + bad[1] + ": " + r.stderr());
            assertTrue(r.stderr().strip().lines().count() == 1 && r.stderr().contains(bad[2]), r.stderr());
        }
        assertTrue(Files.notExists(dir.resolve("x.sock")));
    }
}

package io.bmcast.imageserver;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.TestFiles;
import io.bmcast.testing.Tools;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code bmcast image-server} and {@code bmcast serve-file} as separate processes, as scripts use them. */
@Timeout(120)
class ServeCommandTest {
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private static List<String> bmcast(String... args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                "io.bmcast.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Starts a server process and waits for its "serving" line. */
    private Process start(List<String> cmd, StringBuilder firstLine) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectError(dir.resolve("stderr.log").toFile()).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        if (line == null) {
            p.waitFor(10, TimeUnit.SECONDS);
            fail("server printed nothing; stderr: " + Files.readString(dir.resolve("stderr.log")));
        }
        firstLine.append(line);
        return p;
    }

    private String stop(Process p) throws Exception {
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "server exits on SIGTERM");
        return Files.readString(dir.resolve("stderr.log"));
    }

    @Test
    void serveFileServesUntilSigtermAndRemovesItsSocket() throws Exception {
        Tools.assume("qemu-io");
        Path img = TestFiles.random(dir.resolve("disk.raw"), 4 << 20, 1);
        Path sock = dir.resolve("s.sock");
        StringBuilder line = new StringBuilder();
        Process p = start(bmcast("serve-file", img.toString(), "--socket", sock.toString(), "--writable"), line);
        try {
            assertTrue(line.toString().startsWith("serving 'disk' (4194304 bytes, writable) on unix:" + sock), line.toString());
            // The default (empty) export name works, and writes land in the file.
            Tools.run(T, "qemu-io", "-f", "raw", "-c", "write -P 0x42 0 64k", "nbd+unix:///?socket=" + sock)
                    .requireSuccess("qemu-io write");
            Tools.run(T, "qemu-io", "-f", "raw", "-c", "read -P 0x42 0 64k", "nbd+unix:///disk?socket=" + sock)
                    .requireSuccess("qemu-io read");
        } finally {
            String err = stop(p);
            assertTrue(err.contains("conn#1 open"), err);
            assertTrue(err.contains("close: export 'disk'"), err);
        }
        assertFalse(Files.exists(sock), "socket file removed");
        assertEquals(0x42, Files.readAllBytes(img)[100]);
    }

    @Test
    void imageServerExportsEveryFileReadOnlyOverTcp() throws Exception {
        Tools.assume("nbdinfo");
        Path images = Files.createDirectory(dir.resolve("images"));
        TestFiles.random(images.resolve("debian.img"), 1 << 20, 2);
        TestFiles.random(images.resolve("alpine.qcow-raw"), 2 << 20, 3);
        StringBuilder line = new StringBuilder();
        Process p = start(bmcast("image-server", "--dir", images.toString(), "--listen", "127.0.0.1:0",
                "--rate", "10Gbit", "--latency", "100us"), line);
        try {
            String l = line.toString();
            assertTrue(l.contains("'alpine' (2097152 bytes, read-only), 'debian' (1048576 bytes, read-only)"), l);
            String port = l.replaceAll(".* on tcp:127\\.0\\.0\\.1:(\\d+).*", "$1");
            String out = Tools.run(T, "nbdinfo", "--list", "nbd://127.0.0.1:" + port).requireSuccess("nbdinfo").stdout();
            assertTrue(out.contains("export=\"alpine\"") && out.contains("export=\"debian\""), out);
            assertTrue(out.contains("description: debian.img (1.0 MiB)"), out);
            assertTrue(out.contains("is_read_only: true"), out);
        } finally {
            stop(p);
        }
    }

    @Test
    void badArgumentsExitWithTwoAndSayWhy() throws Exception {
        Path images = Files.createDirectory(dir.resolve("dup"));
        Files.writeString(images.resolve("a.img"), "x");
        Files.writeString(images.resolve("a.raw"), "y");
        Path empty = Files.createDirectory(dir.resolve("empty"));
        Path sock = dir.resolve("x.sock");
        String[][] cases = {
            {"image-server", "--dir", images.toString(), "--socket", sock.toString()},
            {"image-server", "--dir", empty.toString(), "--socket", sock.toString()},
            {"image-server", "--dir", dir.resolve("missing").toString(), "--socket", sock.toString()},
            {"image-server", "--socket", sock.toString()},
            {"serve-file", dir.resolve("missing.img").toString(), "--socket", sock.toString()},
            {"serve-file", images.resolve("a.img").toString()},
            {"serve-file", images.resolve("a.img").toString(), "--socket", sock.toString(), "--listen", ":10809"},
            {"serve-file", images.resolve("a.img").toString(), "--socket", sock.toString(), "--rate", "fast"},
            {"serve-file", images.resolve("a.img").toString(), "--listen", "nohostport"},
        };
        String[] expected = {"both be exported as 'a'", "no image files", "not a directory", "needs --dir DIR or --store",
            "no such file", "exactly one of", "exactly one of", "rate", "HOST:PORT"};
        for (int i = 0; i < cases.length; i++) {
            var r = Tools.run(T, bmcast(cases[i]));
            assertEquals(2, r.exitCode(), String.join(" ", cases[i]) + "\n" + r.stderr());
            assertTrue(r.stderr().contains(expected[i]), r.stderr());
        }
        assertFalse(Files.exists(sock));
    }
}

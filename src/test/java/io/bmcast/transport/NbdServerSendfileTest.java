package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * READ replies sent from the file with sendfile (large reads of a file export on a plaintext connection):
 * the bytes libnbd's tools receive are the file's, with simple and structured replies, many reads in flight
 * on several connections, reads that end at the export's end, and a file that shrinks under the server.
 */
@Timeout(180)
class NbdServerSendfileTest {
    private static final Duration T = Duration.ofSeconds(120);
    /** Not a multiple of any request size, so the last read of a copy ends at an odd offset. */
    private static final long SIZE = (24 << 20) + 12345;

    @TempDir
    Path dir;
    TestServer s;

    @AfterEach
    void stop() {
        if (s != null) s.close();
    }

    private Path image() throws Exception {
        return TestFiles.random(dir.resolve("image.img"), SIZE, 77);
    }

    @Test
    void nbdcopyOverUnixSocketGetsTheFileWithManyReadsInFlight() throws Exception {
        Tools.assume("nbdcopy");
        Path img = image();
        s = TestServer.on(dir).file("img", img, false).start();
        for (String requestSize : new String[] {"1048576", "131072"}) {
            Path copy = dir.resolve("copy-" + requestSize + ".img");
            Tools.run(T, "nbdcopy", "--no-extents", "--connections=4", "--requests=16", "--request-size=" + requestSize,
                    s.uri("img"), copy.toString()).requireSuccess("nbdcopy");
            assertEquals(-1L, Files.mismatch(img, copy), "first differing byte, requests of " + requestSize);
            assertEquals(SIZE, Files.size(copy));
        }
    }

    @Test
    void nbdcopyOverTcpGetsTheFile() throws Exception {
        Tools.assume("nbdcopy");
        Path img = image();
        s = TestServer.on(dir).file("img", img, false).tcp().start();
        Path copy = dir.resolve("copy.img");
        Tools.run(T, "nbdcopy", "--no-extents", "--request-size=1048576", s.uri("img"), copy.toString())
                .requireSuccess("nbdcopy");
        assertEquals(-1L, Files.mismatch(img, copy));
    }

    /** 1 MiB reads, 16 in flight, then reads that end at the export's end; prints a digest of each. */
    private static String readScript(boolean structured) {
        return """
                import hashlib
                h.set_request_structured_replies(%s)
                h.connect_uri(URI)
                print("structured", h.get_structured_replies_negotiated())
                size = h.get_size()
                chunk = 1 << 20
                offsets = list(range(0, size, chunk))
                bufs = {}
                pending = []
                for off in offsets:
                    n = min(chunk, size - off)
                    b = nbd.Buffer(n)
                    bufs[off] = b
                    pending.append(h.aio_pread(b, off))
                    while h.aio_in_flight() >= 16:
                        h.poll(-1)
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                for c in pending:
                    h.aio_command_completed(c)
                whole = hashlib.sha256()
                for off in offsets:
                    whole.update(bufs[off].to_bytearray())
                print("whole", whole.hexdigest())
                for n in (65536, 200000, 1048576, 4 << 20):
                    print("tail", n, hashlib.sha256(h.pread(n, size - n)).hexdigest())
                """.formatted(structured ? "True" : "False");
    }

    private String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private void readsMatch(boolean structured) throws Exception {
        Tools.assume("nbdsh");
        Path img = image();
        s = TestServer.on(dir).file("img", img, false).start();
        String out = Tools.nbdsh(T, null, "URI = '" + s.uri("img") + "'\n" + readScript(structured))
                .requireSuccess("nbdsh").stdout();
        byte[] all = Files.readAllBytes(img);
        assertTrue(out.contains("structured " + (structured ? "True" : "False")), out);
        assertTrue(out.contains("whole " + sha256(all)), out);
        for (int n : new int[] {65536, 200000, 1048576, 4 << 20}) {
            assertTrue(out.contains("tail " + n + " " + sha256(Arrays.copyOfRange(all, all.length - n, all.length))),
                    "read of " + n + " bytes ending at the export's end: " + out);
        }
    }

    @Test
    void concurrentReadsWithStructuredRepliesMatchTheFile() throws Exception {
        readsMatch(true);
    }

    @Test
    void concurrentReadsWithSimpleRepliesMatchTheFile() throws Exception {
        readsMatch(false);
    }

    @Test
    void aFileThatShrankUnderTheServerReadsAsZerosPastItsEnd() throws Exception {
        Tools.assume("nbdsh");
        Path img = image();
        s = TestServer.on(dir).file("img", img, false).start();
        byte[] head = Arrays.copyOfRange(Files.readAllBytes(img), (int) SIZE - (2 << 20), (int) SIZE - (1 << 20));
        try (FileChannel f = FileChannel.open(img, StandardOpenOption.WRITE)) {
            f.truncate(SIZE - (1 << 20)); // the export still says SIZE
        }
        byte[] expected = Arrays.copyOf(head, 2 << 20); // the rest: zeros
        for (boolean structured : new boolean[] {true, false}) {
            String out = Tools.nbdsh(T, null, """
                    import hashlib
                    h.set_request_structured_replies(%s)
                    h.connect_uri('%s')
                    size = h.get_size()
                    print("size", size)
                    print("tail", hashlib.sha256(h.pread(2 << 20, size - (2 << 20))).hexdigest())
                    print("still", hashlib.sha256(h.pread(65536, 0)).hexdigest())
                    """.formatted(structured ? "True" : "False", s.uri("img"))).requireSuccess("nbdsh").stdout();
            assertTrue(out.contains("size " + SIZE), out);
            assertTrue(out.contains("tail " + sha256(expected)), "structured " + structured + ": " + out);
            assertTrue(out.contains("still " + sha256(Arrays.copyOf(Files.readAllBytes(img), 65536))), out);
        }
    }
}

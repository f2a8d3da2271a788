package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corner cases through libnbd's nbdsh, with libnbd's own checks switched off ({@code set_strict_mode(0)})
 * so the bad requests reach our server and the errno printed is the one it sent.
 */
@Timeout(120)
class NbdServerNbdshTest {
    private static final Duration T = Duration.ofSeconds(60);
    private static final int SIZE = 4 << 20;

    /** Defines try_(fn) that prints OK or the errno name of the failure. */
    private static final String PRELUDE = """
            def try_(label, fn):
                try:
                    fn()
                    print(label, "OK")
                except nbd.Error as e:
                    print(label, e.errno)
            h.set_strict_mode(0)
            """;

    @TempDir
    Path dir;
    TestServer s;

    @BeforeEach
    void start() throws Exception {
        Tools.assume("nbdsh");
        Path ro = TestFiles.random(dir.resolve("ro.img"), SIZE, 21);
        Path rw = TestFiles.sparse(dir.resolve("rw.img"), SIZE, 22, 0, 1 << 20);
        s = TestServer.on(dir).file("ro", ro, false).file("rw", rw, true).start();
    }

    @AfterEach
    void stop() {
        if (s != null) s.close();
    }

    private String nbdsh(String export, String script) {
        return Tools.nbdsh(T, s.uri(export), PRELUDE + script).requireSuccess("nbdsh").stdout();
    }

    /** A script that connects itself, after asking for the {@code base:allocation} context. */
    private String nbdshWithAllocation(String export, String script) {
        String connect = "h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)\nh.connect_uri('" + s.uri(export) + "')\n"
                + "print('context', h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION))\n";
        return Tools.nbdsh(T, null, PRELUDE + connect + script).requireSuccess("nbdsh").stdout();
    }

    @Test
    void readOnlyExportRefusesWritesAndOutOfRangeReads() {
        String out = nbdsh("ro", """
                size = h.get_size()
                print("size", size, "ro", h.is_read_only())
                try_("read-past-end", lambda: h.pread(4096, size - 100))
                try_("read-at-end", lambda: h.pread(1, size))
                try_("read-too-big", lambda: h.pread(64 << 20, 0))
                try_("write", lambda: h.pwrite(b"x" * 512, 0))
                try_("trim", lambda: h.trim(4096, 0))
                try_("zero", lambda: h.zero(4096, 0))
                try_("fua-read", lambda: h.pread(512, 0, nbd.CMD_FLAG_FUA))
                try_("read", lambda: h.pread(512, 0))
                try_("read-df", lambda: h.pread(512, 0, nbd.CMD_FLAG_DF))
                try_("cache", lambda: h.cache(4096, 0))
                """);
        assertTrue(out.contains("size " + SIZE + " ro True"), out);
        assertTrue(out.contains("read-past-end EINVAL"), out);
        assertTrue(out.contains("read-at-end EINVAL"), out);
        assertTrue(out.contains("read-too-big EOVERFLOW") || out.contains("read-too-big EINVAL"), out);
        assertTrue(out.contains("write EPERM"), out);
        assertTrue(out.contains("trim EPERM"), out);
        assertTrue(out.contains("zero EPERM"), out);
        assertTrue(out.contains("fua-read EINVAL"), out);
        assertTrue(out.contains("read OK"), out);
        assertTrue(out.contains("read-df OK"), out);
        assertTrue(out.contains("cache OK"), out);
    }

    @Test
    void writableExportWritesZeroesAndReportsExtents() {
        String out = nbdshWithAllocation("rw", """
                size = h.get_size()
                try_("write-past-end", lambda: h.pwrite(b"x" * 4096, size - 100))
                try_("zero-past-end", lambda: h.zero(8192, size - 4096))
                h.pwrite(b"\\xaa" * 8192, 2 << 20, nbd.CMD_FLAG_FUA)
                assert h.pread(8192, 2 << 20) == b"\\xaa" * 8192
                h.zero(65536, 0)
                assert h.pread(65536, 0) == bytes(65536)
                h.zero(4096, 8192, nbd.CMD_FLAG_NO_HOLE)
                assert h.pread(4096, 8192) == bytes(4096)
                try_("fast-zero", lambda: h.zero(65536, 3 << 20, nbd.CMD_FLAG_FAST_ZERO))
                h.trim(65536, 3 << 20)
                h.flush()
                extents = []
                def cb(meta, offset, entries, err):
                    extents.extend(entries)
                h.block_status(size, 0, cb)
                print("extents", extents)
                one = []
                h.block_status(size, 0, lambda m, o, e, err: one.extend(e), nbd.CMD_FLAG_REQ_ONE)
                print("req-one", len(one))
                try_("bs-past-end", lambda: h.block_status(4096, size, cb))
                """);
        assertTrue(out.contains("context True"), out);
        assertTrue(out.contains("write-past-end ENOSPC"), out);
        assertTrue(out.contains("zero-past-end ENOSPC"), out);
        assertTrue(out.contains("fast-zero OK") || out.contains("fast-zero ENOTSUP"), out);
        assertTrue(out.contains("req-one 2"), out);
        assertTrue(out.contains("bs-past-end EINVAL"), out);
        // 0-64K punched (a hole) but for the 4K zeroed with NO_HOLE at 8K (kept allocated), the rest of
        // the original data to 1M, a hole, the 8K written at 2M, a hole to the end.
        assertTrue(out.contains("extents [8192, 3, 4096, 0, 53248, 3, 983040, 0, 1048576, 3, 8192, 0, 2088960, 3]"), out);
    }

    @Test
    void manyRequestsInFlightOnOneConnection() {
        String out = nbdsh("rw", """
                import os
                data = os.urandom(1 << 20)
                cookies = []
                for i in range(64):
                    buf = nbd.Buffer.from_bytearray(bytearray(data[i * 16384:(i + 1) * 16384]))
                    cookies.append(h.aio_pwrite(buf, i * 16384))
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                for c in cookies:
                    assert h.aio_command_completed(c)
                bufs = []
                for i in range(64):
                    b = nbd.Buffer(16384)
                    bufs.append((b, h.aio_pread(b, i * 16384)))
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                got = b"".join(b.to_bytearray() for b, c in bufs)
                print("match", got == data)
                """);
        assertTrue(out.contains("match True"), out);
    }

    @Test
    void blockStatusWithoutTheContextIsInvalid() {
        String out = nbdsh("ro", """
                try_("bs-no-context", lambda: h.block_status(4096, 0, lambda m, o, e, err: 0))
                """);
        assertTrue(out.contains("bs-no-context EINVAL"), out);
    }

    @Test
    void unknownExportIsRefusedInTheHandshake() {
        var r = Tools.nbdsh(T, "nbd+unix:///nope?socket=" + s.socket(), "print('connected')");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.stderr().toLowerCase().contains("unknown") || r.stderr().contains("not found")
                || r.stderr().contains("export"), r.stderr());
    }
}

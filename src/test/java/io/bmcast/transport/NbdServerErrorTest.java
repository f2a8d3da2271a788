package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.storage.ReadOnlyExport;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A request whose export throws an {@link Error} still gets its reply (issue 8, item 5). */
@Timeout(120)
class NbdServerErrorTest {
    @TempDir
    Path dir;

    /** 1 MiB of zeros whose first 4 KiB run the server out of memory. */
    private static final class OutOfMemoryAtZero implements ReadOnlyExport {
        @Override
        public String name() {
            return "oom";
        }

        @Override
        public long size() {
            return 1 << 20;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            if (offset < 4096) throw new OutOfMemoryError("Java heap space (injected)");
            dst.position(dst.limit());
        }

        @Override
        public void blockStatus(long offset, long length, ExtentSink sink) {
            sink.extent(length, 0);
        }
    }

    @Test
    void aReadWhoseExportThrowsAnErrorIsAnsweredWithEioAndTheConnectionGoesOn() throws Exception {
        Tools.assume("nbdsh");
        try (TestServer s = TestServer.on(dir).export("oom", new OutOfMemoryAtZero()).start()) {
            String out = Tools.nbdsh(Duration.ofSeconds(30), s.uri("oom"), """
                    try:
                        h.pread(4096, 0)
                        print("first OK")
                    except nbd.Error as e:
                        print("first", e.errno)
                    print("second", len(h.pread(4096, 8192)))
                    """).requireSuccess("nbdsh").stdout();
            assertTrue(out.contains("first EIO"), out);
            assertTrue(out.contains("second 4096"), out);
        }
    }
}

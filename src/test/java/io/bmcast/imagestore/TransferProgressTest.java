package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The progress line is a function of the counters and the time passed in. */
class TransferProgressTest {
    @Test
    void aLineSaysChunksBytesSkippedAndRate() {
        TransferProgress p = new TransferProgress("push", "uploaded");
        p.total(1024);
        for (int i = 0; i < 80; i++) p.chunkDone(1 << 20, false);
        for (int i = 0; i < 40; i++) p.chunkDone(0, true);
        assertEquals("push: 120/1024 chunks, 80.0 MiB uploaded, 40 already stored, 167.8 Mbit/s, 4 s", p.line(4_000_000_000L));
        assertEquals("verify: 0/0 chunks, 0 B fetched, 0 kbit/s, 0 s", new TransferProgress("verify", "fetched").line(0));
    }
}

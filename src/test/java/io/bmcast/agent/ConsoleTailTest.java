package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The console goes out in chunks that the controller can count in bytes. */
class ConsoleTailTest {
    @TempDir
    Path tmp;

    @Test
    void sendsWhatFollowsTheOffsetAtMostAChunkAtATime() throws IOException {
        Path log = tmp.resolve("console.log");
        assertEquals("", ConsoleTail.read(log, 0), "no log yet");
        byte[] big = "x".repeat(ConsoleTail.MAX_CHUNK + 10).getBytes(StandardCharsets.US_ASCII);
        Files.write(log, big);
        assertEquals(ConsoleTail.MAX_CHUNK, ConsoleTail.read(log, 0).length());
        assertEquals(10, ConsoleTail.read(log, ConsoleTail.MAX_CHUNK).length());
        assertEquals("", ConsoleTail.read(log, big.length));
    }

    @Test
    void everyByteStaysOneByte() {
        byte[] b = {'o', 'k', (byte) 0xc3, (byte) 0xa9, ' ', (byte) 0xff, (byte) 0xc0, (byte) 0x80, '\n'};
        String s = ConsoleTail.text(b, false);
        assertEquals("ok\u00e9 ???\n", s);
        assertEquals(b.length, s.getBytes(StandardCharsets.UTF_8).length);
        // A chunk cut inside a UTF-8 sequence stops before it: the next chunk starts with it whole.
        assertEquals("ok", ConsoleTail.text(new byte[] {'o', 'k', (byte) 0xc3}, true));
    }
}

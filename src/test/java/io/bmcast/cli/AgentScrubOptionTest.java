package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.cli.MainTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code agent --scrub}: a mode that does not exist, or one given for a disk file, is a usage error that says why. */
class AgentScrubOptionTest {
    @TempDir
    Path tmp;

    @Test
    void aBadScrubModeOrOneWithoutADeviceIsRefusedWithTheReason() throws Exception {
        Path token = Files.writeString(tmp.resolve("join.token"), "x\n");
        Run bad = MainTest.bmcast("agent", "--controller", "http://127.0.0.1:1", "--join-token", token.toString(), "--name", "n",
                "--work", tmp.resolve("w").toString(), "--disk", "/dev/null", "--scrub", "shred");
        assertEquals(2, bad.rc(), bad.err());
        assertTrue(bad.err().contains("--scrub must be one of zero, discard, secure-erase, not 'shred'"), bad.err());

        Run file = MainTest.bmcast("agent", "--controller", "http://127.0.0.1:1", "--join-token", token.toString(), "--name", "n",
                "--work", tmp.resolve("w").toString(), "--scrub", "discard");
        assertEquals(2, file.rc(), file.err());
        assertTrue(file.err().contains("--scrub goes with --disk"), file.err());
    }
}

package io.bmcast.mediator;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real {@code kill -9} of a mediator process in the middle of writes and background fetches: after a
 * restart on the same boot, every acknowledged write is there, though none was flushed.
 */
class KillTest {
    @TempDir
    Path tmp;

    @Test
    void everyAcknowledgedWriteSurvivesAKillMinus9() throws Exception {
        assumeLinuxBootId();
        TestImage image = TestImage.random(77, 2 << 20);
        Path imageFile = tmp.resolve("image.bin");
        Files.write(imageFile, image.data);
        Path local = tmp.resolve("disk.img");
        Path state = tmp.resolve("state");
        byte[] model = image.data.clone();
        for (int round = 0; round < 2; round++) {
            int acks = killAfterAcks(imageFile, local, state, round, 150 + 100 * round);
            // Replay the child's sequence: writes 0..acks-1 were acknowledged; write `acks` may have landed.
            Random rnd = new Random(round);
            byte[] before = null;
            int inflightOff = 0, inflightLen = 0;
            for (int i = 0; i <= acks; i++) {
                int len = 1 + rnd.nextInt(3 * KillChild.REGION);
                long off = KillChild.offset(rnd, model.length, len);
                byte[] data = new byte[len];
                rnd.nextBytes(data);
                if (i == acks) {
                    before = model.clone();
                    inflightOff = (int) off;
                    inflightLen = len;
                }
                System.arraycopy(data, 0, model, (int) off, len);
            }
            MediatorOptions options = MediatorOptions.of("killed", "test://kill").withRegionSize(KillChild.REGION);
            try (MediatedDisk disk = MediatedDisk.open(image, local, state, options)) {
                ByteBuffer b = ByteBuffer.allocate(model.length);
                disk.read(0, b);
                byte[] actual = b.array();
                for (int i = 0; i < model.length; i++) {
                    boolean inflight = i >= inflightOff && i < inflightOff + inflightLen;
                    if (actual[i] != model[i] && !(inflight && actual[i] == before[i])) {
                        fail("round " + round + ": byte " + i + " lost after kill -9 at " + acks + " acks");
                    }
                }
                model = actual.clone();
            }
        }
    }

    private static void assumeLinuxBootId() {
        org.junit.jupiter.api.Assumptions.assumeTrue(BootIdSource.LINUX.bootId() != null, "needs a Linux boot id");
    }

    /** Runs KillChild until it has acknowledged {@code n} writes, kills it with SIGKILL, returns its ack count. */
    private static int killAfterAcks(Path image, Path local, Path state, long seed, int n) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-cp",
                System.getProperty("java.class.path"), KillChild.class.getName(), image.toString(), local.toString(),
                state.toString(), Long.toString(seed)));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        int acks = 0;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))) {
            String line;
            while (acks < n && (line = r.readLine()) != null) {
                if (line.startsWith("ACK ")) acks = Integer.parseInt(line.substring(4)) + 1;
            }
            assertEquals(n, acks, "the child died early");
            // SIGKILL from outside (Process.destroyForcibly would also close our end of its stdout).
            assertEquals(0, new ProcessBuilder("kill", "-9", Long.toString(p.pid())).start().waitFor());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            while ((line = r.readLine()) != null) { // acknowledged before it died, still in the pipe
                if (line.startsWith("ACK ")) acks = Integer.parseInt(line.substring(4)) + 1;
            }
        } finally {
            p.destroyForcibly();
        }
        assertEquals(137, p.exitValue(), "killed by SIGKILL");
        return acks;
    }

}

package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.testing.ClientTestProcesses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast instance run} on a host whose accelerator is not known yet (a fresh cache, nothing forced): the
 * command decides it before its timeline's clock starts, so the instance itself only reads the answer and its
 * events hold no probe ({@code accel-probed} is what {@link Instance} records when it has to probe itself). On a
 * host where {@code /dev/kvm} opens but a kernel hangs on it, that probe is 8 s the guest would otherwise wait.
 */
class AccelBeforeTimelineTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void instanceRunProbesBeforeItsClockStarts() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("1Gbit");
            Path cache = Files.createDirectories(tmp.resolve("fresh-cache"));
            ProcessBuilder pb = new ProcessBuilder(ClientTestProcesses.bmcastCommand(
                    d.instanceRunArgs("--stop-grace", "0s").toArray(String[]::new)));
            pb.environment().put("BMCAST_CACHE", cache.toString());
            pb.environment().remove("BMCAST_ACCEL");
            Path log = tmp.resolve("instance.log");
            Process p = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                long deadline = System.nanoTime() + Deployment.BOOT.toNanos();
                while (!d.eventsText().contains("\"event\":\"vmm-started\"")) {
                    if (!p.isAlive()) fail("instance run exited (" + p.exitValue() + ") before vmm-started:\n" + Files.readString(log));
                    if (System.nanoTime() > deadline) fail("no vmm-started within " + Deployment.BOOT.toSeconds() + " s");
                    Thread.sleep(100);
                }
                p.destroy();
                assertTrue(p.waitFor(Deployment.EXIT.toSeconds(), TimeUnit.SECONDS), Files.readString(log));
                assertEquals(0, p.exitValue(), Files.readString(log));
            } finally {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            try (Stream<Path> files = Files.list(cache)) {
                List<String> memos = files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("accel-")).toList();
                assertEquals(1, memos.size(), "the probe ran and its answer is remembered for this host boot: " + memos);
            }
            String events = d.eventsText();
            assertFalse(events.contains("accel-probed"), "the instance probed inside its timeline:\n" + events);
            assertTrue(events.indexOf("\"mediator-started\"") < events.indexOf("\"vmm-started\""), events);
        }
    }
}

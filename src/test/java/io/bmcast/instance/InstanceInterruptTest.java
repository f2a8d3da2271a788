package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C on {@code bmcast instance run} while the disk is still copying: SIGINT reaches the whole process group
 * (the command, its mediator and QEMU). Nothing may be left running (the supervision loop used to restart the
 * mediator the signal had stopped, and the orphan kept the state dir), and a second run on the same state dir
 * works.
 */
class InstanceInterruptTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(420)
    void ctrlCOnTheProcessGroupLeavesNoMediatorAndTheStateDirIsReusable() throws Exception {
        Tools.assume("setsid");
        // A job started in the background of a non-interactive shell inherits SIGINT ignored, and the JVM then installs
        // no handler for it (nor can a child undo it): Ctrl-C cannot reach such a process, so there is nothing to test.
        org.junit.jupiter.api.Assumptions.assumeFalse(sigintIgnored(), "SIGINT is ignored in this test's environment");
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit");
            List<String> cmd = new ArrayList<>(List.of("setsid")); // its own process group, as a shell job has
            cmd.addAll(ClientTestProcesses.bmcastCommand(
                    d.instanceRunArgs("--hydrate-rate", "500KiB/s").toArray(String[]::new)));
            Path log = tmp.resolve("instance.log");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                long deadline = System.nanoTime() + Deployment.BOOT.toNanos();
                while (!d.eventsText().contains("\"event\":\"vmm-started\"")) {
                    if (!p.isAlive()) fail("instance run exited before QEMU started:\n" + Files.readString(log));
                    if (System.nanoTime() > deadline) fail("QEMU did not start:\n" + Files.readString(log));
                    Thread.sleep(100);
                }
                Thread.sleep(2000); // the guest boots, the disk streams
                assertEquals("streaming", d.status().get("phase"), "interrupted while copying");
                // Ctrl-C in a terminal: SIGINT to every process of the foreground group.
                Tools.run(Duration.ofSeconds(10), "kill", "-INT", "--", "-" + p.pid()).requireSuccess("kill -INT");
                assertTrue(p.waitFor(Deployment.EXIT.toSeconds(), TimeUnit.SECONDS),
                        "instance run still running after SIGINT:\n" + Files.readString(log));
            } finally {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            String first = d.eventsText();
            int stopAt = first.indexOf("\"event\":\"stop-requested\"");
            assertTrue(stopAt > 0, "SIGINT is a stop request:\n" + first);
            assertTrue(!first.substring(stopAt).contains("\"event\":\"mediator-restarted\""),
                    "the mediator was restarted after Ctrl-C:\n" + first);
            // A restart in the last moments of the JVM would come up after it exited: give it time to show.
            Thread.sleep(3000);
            List<String> left = ProcessHandle.allProcesses()
                    .filter(h -> h.info().commandLine().map(c -> c.contains(d.state.toString())).orElse(false))
                    .map(h -> h.pid() + " " + h.info().commandLine().orElse(""))
                    .toList();
            left.forEach(l -> ProcessHandle.of(Long.parseLong(l.substring(0, l.indexOf(' ')))).ifPresent(ProcessHandle::destroyForcibly));
            assertTrue(left.isEmpty(), "left running after Ctrl-C: " + left + "\n" + Files.readString(log));

            // The same state dir again: the mediator starts, the guest boots.
            int eventsBefore = d.eventsText().length();
            d.start(512 << 10); // slow: still streaming (and its mediator needed) while we look
            d.awaitReady();
            Thread.sleep(1000);
            String second = d.eventsText().substring(eventsBefore);
            for (String bad : List.of("mediator-exited", "mediator-start-failed", "mediator-restarted", "devirtualized")) {
                assertTrue(!second.contains("\"event\":\"" + bad + "\""), "the second run's mediator did not keep running ("
                        + bad + "):\n" + second + "\n" + Files.readString(d.state.resolve("node.log")));
            }
        }
    }

    /** True when this process ignores SIGINT (bit 2 of SigIgn in /proc/self/status), as its children then do. */
    private static boolean sigintIgnored() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("SigIgn:")) return (Long.parseLong(line.substring(7).strip(), 16) & (1L << 1)) != 0;
        }
        return false;
    }
}

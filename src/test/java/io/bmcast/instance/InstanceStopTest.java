package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.util.Jackson;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An instance destroyed as the fleet agent destroys one: {@code bmcast instance run} is a child process and gets
 * SIGTERM while its disk is still streaming. The guest hears the ACPI power button and powers itself off within
 * the grace, the command exits 0 without finishing the copy, nothing it started is left running, and a second
 * run on the same state dir resumes the copy where the first left it and completes.
 */
class InstanceStopTest {
    /** 4 Mbit/s: the background copy would take ~40 s, so the guest is ready long before its disk is local. */
    private static final String SLOW_HYDRATION = "500KiB/s";

    @TempDir
    Path tmp;

    @Test
    @Timeout(420)
    void sigtermPowersTheGuestOffAndTheStateResumes() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit");
            // A grace far longer than the busybox guest needs: the guest, not the timer, ends QEMU.
            List<String> cmd = ClientTestProcesses.bmcastCommand(
                    d.instanceRunArgs("--hydrate-rate", SLOW_HYDRATION, "--stop-grace", "60s").toArray(String[]::new));
            Path log = tmp.resolve("instance.log");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Map<String, Object> before;
            try {
                awaitEvent(d, p, log, "guest-ready");
                before = d.status();
                assertEquals("streaming", before.get("phase"), "destroyed while streaming: " + before);

                p.destroy(); // SIGTERM, as the fleet agent sends it
                assertTrue(p.waitFor(Deployment.EXIT.toSeconds(), TimeUnit.SECONDS),
                        "instance run still running after SIGTERM:\n" + Files.readString(log));
                assertEquals(0, p.exitValue(), "exit code after a requested stop:\n" + Files.readString(log));
            } finally {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }

            List<Map<String, Object>> events = events(d);
            List<String> names = events.stream().map(e -> (String) e.get("event")).toList();
            String timeline = String.join(", ", names);
            assertTrue(names.indexOf("stop-requested") > names.indexOf("guest-ready"), timeline);
            assertTrue(names.indexOf("powerdown-sent") > names.indexOf("stop-requested"), timeline);
            assertTrue(names.indexOf("vmm-exited") > names.indexOf("powerdown-sent"), timeline);
            assertTrue(names.indexOf("mediator-exited") > names.indexOf("vmm-exited"), timeline);
            assertEquals("stopped", names.get(names.size() - 1), timeline);
            assertFalse(names.contains("vmm-killed"), "the guest powered itself off within the grace: " + timeline);
            assertFalse(names.contains("hydrated"), "no copy was finished for a destroyed instance: " + timeline);
            assertEquals(0, number(event(events, "vmm-exited"), "code"), timeline);
            assertEquals(0, number(event(events, "mediator-exited"), "code"), "the mediator committed and exited:\n"
                    + Files.readString(d.state.resolve("node.log")));
            String console = Files.readString(d.console);
            assertTrue(console.contains("power button pressed, powering off"), "the guest's power-off:\n" + console);
            for (String started : List.of("mediator-started", "vmm-started")) {
                long pid = number(event(events, started), "pid");
                assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), started + " pid " + pid + " left running");
            }

            // A second run on the same state dir: starts from what the first one committed, and completes.
            long presentBefore = number(before, "regionsPresent");
            d.start(0);
            d.awaitReady();
            d.checkImageData();
            d.awaitDevirtualized();
            Instance.Result r = d.powerOff(true);
            assertEquals(0, r.vmmExitCode());
            assertFalse(r.stoppedOnRequest());
            long presentAtRestart = presentAtLastStart(d.state.resolve("node.log"));
            assertTrue(presentAtRestart >= presentBefore && presentAtRestart > 0, "the second mediator resumed with "
                    + presentAtRestart + " regions present; " + presentBefore + " were present before SIGTERM");
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
        }
    }

    /** Waits for the instance (a child process) to record {@code name} in its events file. */
    private static void awaitEvent(Deployment d, Process p, Path log, String name) throws Exception {
        long deadline = System.nanoTime() + Deployment.BOOT.toNanos();
        while (!d.eventsText().contains("\"event\":\"" + name + "\"")) {
            if (!p.isAlive()) fail("instance run exited (" + p.exitValue() + ") before " + name + ":\n" + Files.readString(log));
            if (System.nanoTime() > deadline) fail("no " + name + " within " + Deployment.BOOT.toSeconds() + " s");
            Thread.sleep(100);
        }
    }

    private static List<Map<String, Object>> events(Deployment d) throws Exception {
        List<Map<String, Object>> out = new java.util.ArrayList<>();
        for (String line : d.eventsText().lines().toList()) {
            out.add(Jackson.MAPPER.readValue(line, new com.fasterxml.jackson.core.type.TypeReference<Map<String, Object>>() {}));
        }
        return out;
    }

    private static Map<String, Object> event(List<Map<String, Object>> events, String name) {
        return events.stream().filter(e -> name.equals(e.get("event"))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " event in " + events));
    }

    private static long number(Map<String, Object> m, String key) {
        return ((Number) m.get(key)).longValue();
    }

    /** The region count the last mediator started with, from its "node: serving ... (N present)" line. */
    private static long presentAtLastStart(Path nodeLog) throws Exception {
        Matcher m = Pattern.compile("node: serving .*, (\\d+) present\\)").matcher(Files.readString(nodeLog));
        long last = -1;
        while (m.find()) last = Long.parseLong(m.group(1));
        return last;
    }
}
